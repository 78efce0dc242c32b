"""cips-repro: Image Generators with Conditionally-Independent Pixel Synthesis, reproduced."""

__version__ = "0.1.0"
