#!/usr/bin/env bash
# DVC's plots with vega served from this machine: `dvc plots show` and `dvc plots diff` write an HTML page that
# loads vega, vega-lite and vega-embed from a CDN, which a machine without internet cannot reach (its browser shows
# an empty page). This installs the three from the npm registry once, into .venv/share/vega, and gives DVC a page
# template that loads them from there.
#
#   bash scripts/plots.sh show               # dvc_plots/index.html: every model's learning curve and the figures
#   bash scripts/plots.sh diff main          # the workspace (or an experiment) against a revision
#   bash scripts/plots.sh show -o OUT ...    # any other option of `dvc plots`
set -euo pipefail
cd "$(dirname "$0")/.."
vendor="$PWD/.venv/share/vega"
# vega-lite 5.2.0 and vega-embed 6.18.2 are DVC's own; vega 5.22.1 is the oldest release vega-lite 5.2.0 accepts
if [ ! -f "$vendor/node_modules/vega-embed/build/vega-embed.min.js" ]; then
  mkdir -p "$vendor"
  npm install --silent --no-audit --no-fund --prefix "$vendor" vega@5.22.1 vega-lite@5.2.0 vega-embed@6.18.2
fi
template="$vendor/index.html"
cat > "$template.tmp" <<HTML
<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>cips-repro: DVC plots</title>
    <script src="file://$vendor/node_modules/vega/build/vega.min.js"></script>
    <script src="file://$vendor/node_modules/vega-lite/build/vega-lite.min.js"></script>
    <script src="file://$vendor/node_modules/vega-embed/build/vega-embed.min.js"></script>
    <style>table { border-spacing: 15px; } img { max-width: 720px; }</style>
</head>
<body>
    {plot_divs}
</body>
</html>
HTML
mv "$template.tmp" "$template"
command=${1:-show}
shift || true
exec dvc plots "$command" --html-template "$template" "$@"
