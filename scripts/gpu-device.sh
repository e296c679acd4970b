#!/usr/bin/env bash
# The one command for a lent GPU machine (the `device` tool; README, "Training on a GPU"). Each call carries
# .gpu/manifest.json and one part written by `scripts/gpu.py pack`; the machine keeps the parts while it stays warm,
# and the call that completes them trains the reader there and leaves the adapter and its log in $OUT.
#   bash scripts/gpu-device.sh [--minutes 7] [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
W="${QA_GPU_WORK:-/tmp/qa-gpu}"  # kept between calls while the machine stays warm
PACK="${QA_GPU_PACK:-.gpu}"  # what this call carried
PY="${PYTHON:-python3}"
mkdir -p "$W/parts"
cp "$PACK/manifest.json" "$W/"
cp "$PACK"/part-* "$W/parts/" 2>/dev/null || true
export PYTHONPATH="$PWD:$W/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 QA_CACHE="$W/cache"
status=0
"$PY" scripts/gpu.py unpack "$W" || status=$?
if [ "$status" = 3 ]; then exit 0; fi  # more parts to come
[ "$status" = 0 ] || exit "$status"
"$PY" -m pip install -q --no-index --no-deps --no-compile --target "$W/site" "$W"/pack/wheels/*.whl
command -v nvidia-smi >/dev/null && nvidia-smi -L
"$PY" scripts/gpu.py train "$W" --out "${OUT:-$W/out}" "$@"
