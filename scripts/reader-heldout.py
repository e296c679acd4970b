"""Reader-only F1 on half A's held-out articles, the no-answer threshold chosen on other articles.

    .venv/bin/python scripts/reader-heldout.py [ADAPTER ...] [--folds 4]

The held-out fold's articles are split in two by title; the threshold that gives the best F1 on one half
is applied to the other, and the other way round, so no reported figure uses a threshold fitted on itself.
Each adapter is read through the chat's own span confidence (qa.assistant) with the shipped reader's weights, so
that readers not yet calibrated are compared on equal terms, in one run.
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
from qa.metrics import best_threshold  # noqa: E402


def held_out(src: Path, folds: set[int]) -> dict:
    data = json.loads(src.read_text())
    data["data"] = [a for a in data["data"] if fold_of(a["title"]) in folds]
    return data


def cross_threshold(rows: list[dict], halves: list[set[str]]) -> dict:
    """F1 (and refusals) with each half's threshold fitted on the other half."""
    f1 = noans = hasans_refused = n_no = n_has = 0.0
    thresholds = []
    for k in (0, 1):
        fit = [r for r in rows if r["article"] in halves[1 - k]]
        test = [r for r in rows if r["article"] in halves[k]]
        _, t = best_threshold(fit)
        thresholds.append(t)
        for r in test:
            answered = r["confidence"] >= t and r["candidate"]
            f1 += (r["f1_if_answered"] if answered else 0.0) if r["has_answer"] else (0.0 if answered else 1.0)
            if r["has_answer"]:
                n_has += 1
                hasans_refused += not answered
            else:
                n_no += 1
                noans += not answered
    return {"f1": 100 * f1 / len(rows), "thresholds": thresholds, "noans_refused": noans / max(n_no, 1),
            "hasans_refused": hasans_refused / max(n_has, 1), "questions": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("adapters", nargs="*", default=["models/reader-minilm-squad-lora"])
    ap.add_argument("--folds", default="4")
    ap.add_argument("--squad", default="../shared/squad/dev-v2.0-half-a.json")
    args = ap.parse_args()

    from qa.assistant import Assistant
    from qa.evaluate import evaluate, load_question_set
    from qa.models import parse_entry
    from qa.readers import make_reader

    data = held_out(Path(args.squad), parse_folds(args.folds))
    article_of = {qa["id"]: a["title"] for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]}
    titles = sorted({a["title"] for a in data["data"]})
    halves = [set(titles[0::2]), set(titles[1::2])]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "held-out.json"
        path.write_text(json.dumps(data))
        base = Assistant.load(index_dir=Path(tmp) / "index", documents=load_question_set(path).documents)
        for spec in args.adapters:
            reader = make_reader(parse_entry("reader", f"minilm-squad-lora @ {spec}"))
            shipped = base.settings.confidence_weights.get(base.reader.calibration_key)
            settings = dataclasses.replace(base.settings, confidence_weights={reader.calibration_key: shipped}) \
                if shipped else base.settings
            a = Assistant(settings, base.index, base.embedder, reader)
            res = evaluate(path, assistant=a, gold_context=True, progress=False)
            rows = [{**r, "article": article_of[r["id"]]} for r in res["predictions"]]
            has = [r for r in rows if r["has_answer"]]
            results[spec] = {**cross_threshold(rows, halves),
                             "best_f1_on_itself": res["best_f1"],
                             "hasans_f1_forced": 100 * sum(r["f1_if_answered"] for r in has) / len(has)}
            print(spec, json.dumps(results[spec]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
