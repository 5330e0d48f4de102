#!/usr/bin/env bash
# The GPU check: CUDA/torch environment, fp16 BLIP-large captioning (batch 1 vs 32), train-daclip ViT-B-32 (AMP)
# and its loader, train-restore base at 256 px, daclip restore of 1024x1024 and 4000x3000 photos (time, peak memory),
# and one restoration network call per inference mode (fp32, channels_last, bf16, fp16, compile; speed and drift).
# Under 8 minutes on one GPU; writes OUT/gpu_check.json and prints a short table. See bench/gpu_check.py.
#
#   bench/gpu_check.sh [--out gpu-check] [--restore-steps 20]     # on a machine with a GPU
#   bench/gpu_check.sh --smoke --out /tmp/gpu-check-smoke         # same code paths on CPU, tiny sizes (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" NO_ALBUMENTATIONS_UPDATE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" bench/gpu_check.py "$@"
