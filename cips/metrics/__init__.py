"""Quality metrics: FID, KID and precision/recall (torch-fidelity's estimators, offline Inception).

Modules: `inception` (verified offline weights, registered in torch-fidelity), `features` (feature
networks and uint8 image streams), `quality` (estimators and protocols; `protocols_comparable`,
`check_comparable`, the paper's protocol), `reference` (cached real features), `evaluate` (one evaluation
-> metrics.json; the work of stages reference@ and evaluate@), `cli` (`cips evaluate`, `cips fid`).
Generating the samples is `cips.sampling`; the analyses of the paper's figures are `cips.analysis`.
"""
