#!/usr/bin/env bash
# Train one or more configs side by side on a remote GPU machine and collect the results in $OUT.
#
#   bash scripts/gpu_train.sh configs/neural_v10a_gpu.yaml configs/neural_v10b_gpu.yaml
#
# Expects what travels with the working tree: the data pack (scripts/gpu_pack.py -> .gpu/pack) and, where
# the machine lacks them, wheels of soundfile/cffi/pycparser/soxr in .whl/. Each run's output folder is
# $OUT/<config name>/; afterwards only its log and its last KEEP epoch snapshots are kept and packed into
# $OUT/<config name>.tar (a remote machine may return few files). Works on a CPU-only machine too
# (set device: auto), where it is just slow.
set -u
OUT=${OUT:-out/gpu}
KEEP=${KEEP:-4}
mkdir -p "$OUT"
if ! python3 -c "import soundfile, soxr" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:${PYTHONPATH:-} || exit 1
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
nvidia-smi -L 2>/dev/null || true
pids=()
for cfg in "$@"; do
  name=$(basename "$cfg" .yaml)
  python3 - "$cfg" "$OUT/$name" >"$OUT/$name.log" 2>&1 <<'EOF' &
import sys, time
from voxclean.enhance.neural.train import train
t0 = time.time()
def progress(p):
    if "epoch_done" in p:
        print("epoch", p["epoch_done"], flush=True)
    elif p["step"] % 100 == 0:
        print(f"step {p['step']} loss {p['loss']:.4f} lr {p['lr']:.2e} {time.time() - t0:.0f} s", flush=True)
train(sys.argv[1], out=sys.argv[2], progress=progress)
print("done", flush=True)
EOF
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for cfg in "$@"; do
  name=$(basename "$cfg" .yaml)
  tail -n 3 "$OUT/$name.log"
  ( cd "$OUT/$name" && ls epoch_*.pt 2>/dev/null | head -n -"$KEEP" | xargs -r rm -f
    tar cf "../$name.tar" log.csv config.json epoch_*.pt ) && rm -rf "${OUT:?}/$name"
done
ls -la "$OUT"
