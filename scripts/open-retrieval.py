"""Open retrieval over all of SQuAD 2.0 half A, with and without the reranker, in one run.

    .venv/bin/python scripts/open-retrieval.py [--folds 4] [--index runs/half-a-index] [--json out.json]
                                               [--rerank-k K ...] [--no-fused] [--torch-reranker]

The questions of the held-out fold are asked against one index of every half-A paragraph (17 articles). Reported:
R@1/3/5 and MRR of the passages `ask` reads, the best F1 with the threshold swept, and F1 with the confidence weights
and threshold fitted on half of the fold's articles and applied to the other half (both ways), so no reported
figure is fitted on the questions it is reported on.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.augment import fold_of, parse_folds  # noqa: E402


def cross_fitted(rows: list[dict], halves: list[set[str]]) -> dict:
    from qa.confidence import confidence
    from qa.evaluate import calibrate

    f1, refused_has, n_has = 0.0, 0, 0
    for k in (0, 1):
        weights, thresh, _ = calibrate({"predictions": [r for r in rows if r["article"] in halves[1 - k]]}, 0.2)
        for r in (r for r in rows if r["article"] in halves[k]):
            answered = bool(r["features"]) and bool(r["candidate"]) and confidence(r["features"], weights) >= thresh
            f1 += (r["f1_if_answered"] if answered else 0.0) if r["has_answer"] else float(not answered)
            n_has += r["has_answer"]
            refused_has += r["has_answer"] and not answered
    return {"f1_cross_fitted": 100 * f1 / len(rows), "hasans_refused_cross_fitted": refused_has / max(n_has, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", default="4")
    ap.add_argument("--squad", default="../shared/squad/dev-v2.0-half-a.json")
    ap.add_argument("--index", default="runs/half-a-index")
    ap.add_argument("--json")
    ap.add_argument("--rerank-k", type=int, nargs="*", default=[], help="also rerank these many fused passages")
    ap.add_argument("--no-fused", action="store_true", help="skip the run without the reranker")
    ap.add_argument("--torch-reranker", action="store_true", help="the reranker on torch, not int8 (settings)")
    args = ap.parse_args()

    from qa.assistant import Assistant
    from qa.evaluate import evaluate, load_question_set
    from qa.settings import Settings

    squad = json.loads(Path(args.squad).read_text())
    if not (Path(args.index) / "manifest.json").exists():
        Assistant.load(index_dir=args.index, documents=load_question_set(args.squad).documents)
    settings = Settings.load(reranker_int8=False if args.torch_reranker else None)
    base = Assistant.load(index_dir=args.index, settings=settings)
    held = dict(squad, data=[a for a in squad["data"] if fold_of(a["title"]) in parse_folds(args.folds)])
    article_of = {qa["id"]: a["title"] for a in held["data"] for p in a["paragraphs"] for qa in p["qas"]}
    titles = sorted({a["title"] for a in held["data"]})
    halves = [set(titles[0::2]), set(titles[1::2])]
    fused = base.with_index(base.index, dataclasses.replace(base.settings, rerank_k=0))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "held-out.json"
        path.write_text(json.dumps(held))
        runs = [] if args.no_fused else [("fused", fused)]
        runs += [("reranked", base)] if base.reranker else []
        runs += [(f"reranked, rerank_k {k}", base.with_index(base.index, dataclasses.replace(base.settings, rerank_k=k)))
                 for k in args.rerank_k if base.reranker]
        for name, a in runs:
            res = evaluate(path, assistant=a, progress=False)
            rows = [dict(r, article=article_of[r["id"]]) for r in res["predictions"]]
            results[name] = {k: res[k] for k in ("recall_at_1", "recall_at_3", "recall_at_5", "mrr", "best_f1",
                                                 "latency_p50_s")}
            results[name].update(cross_fitted(rows, halves), questions=len(rows))
            print(name, json.dumps(results[name]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
