#!/usr/bin/env bash
# Reproduces the shipped reader, models/reader-minilm-squad-lora, from SQuAD (../shared/squad).
# Four LoRA phases on SQuAD v1.1, each starting from the one before, then the mean of phases 3 and 4 (`qa average`),
# then a fifth phase from that soup that adds SQuAD 2.0 dev half A's folds 0-3 (real unanswerables) and chat-style
# rewrites; fold 4 is held out, and the thresholds are calibrated on it.
# Every phase resumes from its checkpoint under runs/, so stop it at any time and run it again.
# On 2 CPU cores a phase takes about an hour (phase 1 about two, phase 5 about 35 minutes); run ./setup.sh first.
# On a machine with a CUDA GPU the same commands train there.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
qa() { .venv/bin/qa "$@"; }

qa train --out runs/reader --export runs/reader/export \
         --seed 13 --lr 1e-3 --epochs 0.3 --other 0.5 --removed 0 --swap 0 --negation 0
qa train --init runs/reader/export --out runs/reader-phase2 --export runs/reader-phase2/export \
         --seed 14 --lr 5e-4 --epochs 0.24
qa train --init runs/reader-phase2/export --out runs/reader-phase3 --export runs/reader-phase3/export \
         --seed 15 --lr 3e-4 --epochs 0.2 --antonym 0.12 --swap-in-paragraph 0.5
qa train --init runs/reader-phase3/export --out runs/reader-phase4 --export runs/reader-phase4/export \
         --seed 16 --lr 2e-4 --epochs 0.2 --antonym 0.12 --swap-in-paragraph 0.5 --other-similar 0.5
qa average runs/reader-phase3/export runs/reader-phase4/export --out runs/reader-soup34 \
         --name "phase 3" --name "phase 4"
qa train --init runs/reader-soup34 --out runs/reader-phase5 --export models/reader-minilm-squad-lora \
         --seed 17 --lr 2e-4 --epochs 0.06 --antonym 0.12 --swap-in-paragraph 0.5 --other-similar 0.5 \
         --casual 0.2 --half-a-folds 0,1,2,3 --half-a-repeat 10 --dev-folds 4
.venv/bin/python scripts/half-a-folds.py runs/half-a-fold4.json --folds 4
qa calibrate runs/half-a-fold4.json
qa calibrate runs/half-a-fold4.json --gold-context
qa calibrate tests/data/dev-chat.json
