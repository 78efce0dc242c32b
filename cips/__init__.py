"""cips-repro: Image Generators with Conditionally-Independent Pixel Synthesis, reproduced."""

__version__ = "0.1.0"

from cips.runtime import tune_allocator as _tune_allocator

_tune_allocator()
