#!/usr/bin/env bash
# One short lease of a GPU machine, every check bounded in time, results under $OUT (default /tmp/gpu-lease):
#   1. benchmarks/gpu_check.py: the largest fp32 batch, then img/s and peak memory in fp32/TF32/bf16 at 256x256
#      with the paper's widths, CIPS-skips and StyleGAN2, and a resume check;
#   2. benchmarks/paper_stage.py: the train@ stage itself on the paper's Table 1 FFHQ runs at batch 32;
#   3. the same at the small scale, one run alone, then PAR CIPS runs at once (how many small-scale models
#      one GPU trains side by side).
# Python packages the machine lacks travel as wheels in .whl/ (lmdb, torch-fidelity). `--tiny` runs it all on
# the CPU at toy sizes, which is how it is tried before a lease. Five files come back: run.log and four JSONs.
set -u
OUT=${OUT:-/tmp/gpu-lease}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PY:-python3}
LOG="$OUT/run.log"
if [ "${1:-}" = "--tiny" ]; then
  check=(--tiny --device cpu --budget-s 60) stage=(--tiny --steps 3 --batch 4 --batch-gpu 2 --modes fp32,bf16)
  small=(--steps 5 --modes fp32) par=(2 5) t=(60 60 60 60)
else
  check=(--no-compile --budget-s 100) stage=(--steps 100 --modes tf32) small=(--steps 600 --modes fp32,tf32)
  par=(8 400) t=(150 190 80 80)
fi
say() { echo "== $* $(date +%T)" | tee -a "$LOG"; }
quiet() { grep --line-buffered -v "step/s" | tee -a "$LOG"; }  # progress bars stay out of the log
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee -a "$LOG"
if compgen -G ".whl/*.whl" >/dev/null && ! $PY -c "import lmdb, torch_fidelity" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
$PY -c "import torch, lmdb, torch_fidelity; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" \
  2>&1 | tee -a "$LOG"
say gpu_check
timeout "${t[0]}" $PY benchmarks/gpu_check.py "${check[@]}" --out "$OUT/gpu_check.json" 2>&1 | quiet
say paper_stage
timeout "${t[1]}" $PY benchmarks/paper_stage.py "${stage[@]}" --out "$OUT/paper_stage.json" 2>&1 | quiet
say small_stage
timeout "${t[2]}" $PY benchmarks/paper_stage.py --scale small "${small[@]}" --out "$OUT/small_stage.json" 2>&1 | quiet
say "small_parallel ${par[0]} runs"
tmp=$(mktemp -d)
for i in $(seq "${par[0]}"); do
  timeout "${t[3]}" $PY benchmarks/paper_stage.py --scale small --only cips --steps "${par[1]}" --modes fp32 \
    --out "$tmp/$i.json" > "$tmp/$i.log" 2>&1 &
done
wait
$PY - "$tmp" "$OUT/small_parallel.json" <<'PY' 2>&1 | tee -a "$LOG"
import json, pathlib, sys
rows = [json.loads(p.read_text())["rows"][0] for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json"))]
total = sum(r["img_per_s"] for r in rows)
out = {"processes": len(rows), "img_per_s_each": [r["img_per_s"] for r in rows], "img_per_s_total": total}
pathlib.Path(sys.argv[2]).write_text(json.dumps(out, indent=1))
print(f"{len(rows)} small-scale CIPS runs at once: {total:.0f} img/s in all")
PY
say done
