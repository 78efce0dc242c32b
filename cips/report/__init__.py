"""Tables and figures: our numbers beside the published ones (`cips.paper`), with the protocol of each.

Modules: `inputs` (params, runs' metrics and train.json, scale checks), `tables` (Tables 1-5), `render`
(markdown, csv, tex, rich), `figures` (Figs. 3-7, sample grids), `beyond` (Figs. 8-11, 15, 17-19),
`page` (reports/README.md), `mlflow_runs` (`cips-report runs` / `compare`), `cli` (`cips-report`).
"""
