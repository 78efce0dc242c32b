"""Evaluation: FID, KID and precision/recall (torch-fidelity, offline Inception), spectra, encodings.

Modules: `inception` (verified offline weights, registered in torch-fidelity), `features` (feature
networks and uint8 image streams), `quality` (estimators and protocols; `protocols_comparable`,
`check_comparable`), `reference` (cached real features), `evaluate` (one evaluation -> metrics.json),
`spectrum` (Fig. 7), `encodings` (Figs. 4-5), `cli` (`cips evaluate`, `cips fid`, `cips spectrum`).
"""
