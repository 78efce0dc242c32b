"""cips-repro: Image Generators with Conditionally-Independent Pixel Synthesis, reproduced.

The library, one concept per module or package (no DVC knowledge; `stages/` holds the DVC entry points):

    config      params.yaml as typed dataclasses; errors name the key; resolved configs per run
    paper       the paper: table cells, published numbers, Table 3 flags, Table 4 models, protocol, titles
    layout      where every file of the pipeline lives (data/, runs/, reports/)
    coords      coordinate sets: grids, patches, cylinders, foveated subsets
    data        sources -> transforms -> image LMDBs; the training dataset
    models      CIPS and StyleGAN2 generators, the discriminator, checkpoints, official import
    training    the GAN loop of one run
    sampling    latents, per-sample noise, generation, quantisation (shared by every consumer)
    metrics     FID, KID, precision/recall and their protocols
    analysis    spectra and positional encodings (Figs. 3-7)
    beyond      what only a per-pixel generator can do (Figs. 8-11, 15, 17-19)
    report      tables, figures and the report page
    tracking    MLflow
"""

__version__ = "0.1.0"
