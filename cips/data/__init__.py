"""Data: sources -> transforms -> image LMDBs (prepare), and the training Dataset that reads them.

sources.py     folder, zip, LSUN LMDB, official CIPS LMDB, Fashion-MNIST (Debian), skimage photographs
transforms.py  colour mode, padding, crops with exact or arbitrary rotation, resizing
codec.py       raw / PNG / JPEG values
lmdb_io.py     the LMDB layout, a deterministic writer, atomic directories, read helpers
prepare.py     prepare_dataset / prepare_from_params (the prepare@<dataset> stage)
dataset.py     ImageLMDBDataset
cli.py         `cips prepare`, `cips data info`
"""
