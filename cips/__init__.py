"""cips-repro: Image Generators with Conditionally-Independent Pixel Synthesis, reproduced.

The library, one concept per module or package; `stages/` holds the DVC entry points, one per stage:

    config      the schema of params.yaml: typed dataclasses, errors that name the key
    scale       reading params.yaml and switching scales (configs/<scale>.yaml)
    plan        the generated `dvc:` section: DVC's foreach keys of the current scale
    resolve     what identifies a run: for DVC (resolved/*.json), resume and the finished-run check
    paper       the paper: published numbers, Table 3 flags, Table 4 models, protocol, titles (report only)
    layout      where every file of the pipeline lives (data/, runs/, reports/, configs/)
    coords      coordinate sets: grids, patches, cylinders, foveated subsets
    data        sources -> transforms -> image LMDBs; the training dataset
    models      CIPS and StyleGAN2 generators, the discriminator, checkpoints, official import
    training    the GAN loop of one run
    sampling    latents, per-sample noise, generation, quantisation (shared by every consumer)
    metrics     FID, KID, precision/recall and their protocols
    analysis    spectra and positional encodings (Figs. 3-7)
    beyond      what only a per-pixel generator can do (Figs. 8-11, 15, 17-19)
    draw        matplotlib helpers shared by the report's and the per-pixel figures
    report      tables, figures and the report page
    tracking    MLflow
    console     how a command ends on bad input (one line, exit code 2)
"""

__version__ = "0.1.0"
