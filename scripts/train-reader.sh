#!/usr/bin/env bash
# Reproduces the shipped reader, models/reader-minilm-squad-lora, from SQuAD v1.1 (../shared/squad).
# Four LoRA phases, each starting from the one before, then the mean of phases 3 and 4 (`qa average`).
# Every phase resumes from its checkpoint under runs/, so stop it at any time and run it again.
# On 2 CPU cores a phase takes about an hour (phase 1 about two); run ./setup.sh first.
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
qa average runs/reader-phase3/export runs/reader-phase4/export --out models/reader-minilm-squad-lora \
         --name "phase 3" --name "phase 4"
