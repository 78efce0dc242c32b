"""Training: the GAN loop of one run and what it needs.

Modules: `loop` (Trainer: D and G steps, lazy R1 fused or separate, patch and panorama coordinates, EMA,
checkpoints, exact resume, signals, MLflow), `losses` (logistic losses, R1, the lazy-regularisation Adam
correction), `ema` (half-life decay), `data` (real batches seeded by (seed, step)), `distributed`
(DistributedDataParallel across processes), `runner` (the work of stage train@<run> and `cips train`, and the
launch of train.nproc processes), `lanes` (several models at a time; `cips park`), `cli`.
"""
