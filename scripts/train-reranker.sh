#!/usr/bin/env bash
# Reproduces the shipped reranker, models/reranker-minilm-squad-lora, from SQuAD (../shared/squad): one epoch over
# SQuAD v1.1 questions and SQuAD 2.0 dev half A's folds 0-3 (fold 4 held out), then the confidence weights and
# thresholds that use its score, calibrated on fold 4 as the reader's are.
# It resumes from runs/reranker/checkpoint, so stop it at any time and run it again. About 50 minutes on 2 CPU
# cores; run ./setup.sh first. On a machine with a CUDA GPU the same command trains there.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
qa() { .venv/bin/qa "$@"; }

qa train-reranker --out runs/reranker --export models/reranker-minilm-squad-lora \
                  --seed 21 --lr 1e-3 --v11-questions 3500 --half-a-folds 0,1,2,3 --casual 0.2
.venv/bin/python scripts/half-a-folds.py runs/half-a-fold4.json --folds 4
qa calibrate runs/half-a-fold4.json
qa calibrate tests/data/dev-chat.json

# The optional answer-sentence cross-encoder (models.txt role `sentence_scorer`, off by default; README "Answer
# shapes"): the same model, started from the reranker, trained on sentences. About 45 minutes on 2 cores.
qa train-reranker --unit sentence --init models/reranker-minilm-squad-lora --out runs/sentence-ce \
                  --export models/sentence-minilm-squad-lora --seed 23 --lr 5e-4 --v11-questions 5000 \
                  --half-a-folds 0,1,2,3 --casual 0.3
