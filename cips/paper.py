"""The paper (Anokhin et al., CVPR 2021), the one place it lives: its tables' titles, published
numbers, the ablation flags of Table 3, the configurations of Table 4, its evaluation protocol and its
figure titles. Everything else imports from here; this module imports nothing of the project, and only
the report imports it (editing a published number re-renders the report and nothing else). Which cells a
run can feed is the params schema's (`cips.config.TABLE_CELLS`).

Published values are keyed the way the report looks them up: table -> row -> column.
"""

from __future__ import annotations

PAPER = "Anokhin et al., Image Generators with Conditionally-Independent Pixel Synthesis, CVPR 2021"

# The paper's evaluation protocol: 50k generated images at 256x256 against the real images; precision and
# recall with k = 3 on VGG16 features.
N_GENERATED = 50_000
RESOLUTION = 256
PRC_K = 3

TABLE_TITLES = {
    1: "FID at 256x256, CIPS-skips vs StyleGANv2",
    2: "Precision and recall (k = 3), FFHQ",
    3: "Ablations on FFHQ (300K iterations, batch 16), FID",
    4: "Generator parameters (millions), 256x256",
    5: "Patch-based training, FID of full images (D sees KxK patches)",
}

# Table 1: FID at 256x256, 50k generated images against the full dataset
TABLE1_FID = {
    "ffhq": {"stylegan2": 3.83, "cips": 4.38},
    "churches": {"stylegan2": 3.86, "cips": 2.92},
    "landscapes": {"stylegan2": 2.36, "cips": 3.61},
    "satellite-buildings": {"stylegan2": 73.67, "cips": 69.67},
    "satellite-landscapes": {"stylegan2": 51.54, "cips": 48.47},
}

# Table 2: precision and recall (k = 3, VGG16 features) on FFHQ 256
TABLE2_PR = {
    "stylegan2": {"precision": 0.609, "recall": 0.513},
    "cips": {"precision": 0.613, "recall": 0.493},
}

# Table 3: ablations on FFHQ 256 (300K iterations, batch 16), FID; flags as in the paper's table
TABLE3_ABLATIONS = {
    "base": {"fourier": True, "embeddings": True, "residual": False, "skips": False, "sine": False, "fid": 6.71},
    "ne": {"fourier": True, "embeddings": False, "residual": False, "skips": False, "sine": False, "fid": 12.71},
    "nofourier": {"fourier": False, "embeddings": True, "residual": False, "skips": False, "sine": False,
                  "fid": 10.18},
    "main": {"fourier": True, "embeddings": True, "residual": False, "skips": True, "sine": False, "fid": 6.31},
    "residual": {"fourier": True, "embeddings": True, "residual": True, "skips": False, "sine": False,
                 "fid": 6.52},
    "sine": {"fourier": False, "embeddings": True, "residual": False, "skips": False, "sine": True, "fid": 10.0},
}
TABLE3_LABELS = {"base": "base", "ne": "No embed (NE)", "nofourier": "No Fourier", "main": "Main",
                 "residual": "Residual", "sine": "Sine"}

# Table 4: generator parameters in millions at 256x256
TABLE4_PARAMS_M = {"cips-base": 43.8, "cips-ne": 10.2, "cips-default": 45.9, "stylegan2": 30.0}
TABLE4_LABELS = {"cips-base": "CIPS-base", "cips-ne": "CIPS-NE", "cips-default": "CIPS-Default (skips)",
                 "stylegan2": "StyleGANv2"}
# Table 4's rows as overrides of the paper-scale default generator (ModelConfig's defaults: CIPS-skips)
TABLE4_MODELS = {"cips-base": {"skips": False}, "cips-ne": {"skips": False, "embeddings": False},
                 "cips-default": {"skips": True}, "stylegan2": {"arch": "stylegan2"}}

# Table 5: patch-based training, FID of full 256x256 images; D sees KxK patches
TABLE5_PATCH_FID = {
    "ffhq": {256: 4.38, 128: 9.08, 64: 11.79},
    "churches": {256: 2.92, 128: 7.08, 64: 11.53},
}

DATASET_LABELS = {"ffhq": "FFHQ", "churches": "LSUN Churches", "landscapes": "Landscapes",
                  "satellite-buildings": "Satellite-Buildings", "satellite-landscapes": "Satellite-Landscapes"}

FIGURE_TITLES = {
    "fig3": "Fig. 3: images of the mean style (CIPS-base, CIPS-NE)",
    "fig4": "Fig. 4: spectra of Fourier features and coordinate embeddings (one colour scale)",
    "fig5": "Fig. 5: PCA of the positional encodings (3 components as RGB)",
    "fig6": "Fig. 6: normal, coordinate embeddings zeroed, Fourier features zeroed",
    "fig7_spectra": "Fig. 7a: mean magnitude spectra (real, CIPS-base, CIPS-NE, StyleGAN2)",
    "fig7_profile": "Fig. 7b: azimuthal integration of the spectra",
}
