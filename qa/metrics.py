"""SQuAD v2.0 metrics, computed as the official evaluation script does."""
from __future__ import annotations

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation and the articles a/an/the, collapse whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(gold: str, pred: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(pred))


def f1_score(gold: str, pred: str) -> float:
    gold_toks = normalize_answer(gold).split()
    pred_toks = normalize_answer(pred).split()
    if not gold_toks or not pred_toks:
        # An empty gold (unanswerable) scores 1 only against an empty prediction.
        return float(gold_toks == pred_toks)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_toks)
    recall = same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def score(golds: list[str], pred: str) -> tuple[int, float]:
    """EM and F1 of one prediction, max over the gold answers ([] or [""] means unanswerable)."""
    golds = [g for g in golds if normalize_answer(g)] or [""]
    return max(exact_match(g, pred) for g in golds), max(f1_score(g, pred) for g in golds)


def summarize(rows: list[dict]) -> dict:
    """Aggregate rows with keys em, f1, has_answer into the official script's keys (percentages)."""
    out: dict = {"total": len(rows)}
    out["exact"] = 100.0 * sum(r["em"] for r in rows) / max(len(rows), 1)
    out["f1"] = 100.0 * sum(r["f1"] for r in rows) / max(len(rows), 1)
    for name, want in (("HasAns", True), ("NoAns", False)):
        part = [r for r in rows if r["has_answer"] == want]
        if part:
            out[f"{name}_exact"] = 100.0 * sum(r["em"] for r in part) / len(part)
            out[f"{name}_f1"] = 100.0 * sum(r["f1"] for r in part) / len(part)
            out[f"{name}_total"] = len(part)
    return out


def percentile(values, q: float):
    """The nearest-rank q-quantile (0 <= q <= 1), or None for no values."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else None


def best_threshold(rows: list[dict], max_refused: float | None = None) -> tuple[float, float]:
    """Sweep the abstention threshold over the answers' confidences, as the official script does.

    Each row needs: has_answer, confidence, and f1_if_answered (the F1 the answer would get if given).
    Below the threshold the system abstains, which scores 1 on unanswerable questions and 0 otherwise.
    With `max_refused`, only thresholds that refuse at most that share of the answerable questions count.
    Returns (best F1 in percent, threshold).
    """
    if not rows:
        return 0.0, 0.5
    n_has = sum(1 for r in rows if r["has_answer"])
    refused = n_has
    # Start from "abstain on everything", then admit answers by falling confidence.
    current = sum(0.0 if r["has_answer"] else 1.0 for r in rows)
    best, best_t = current, max(r["confidence"] for r in rows) + 1e-6
    if max_refused is not None and refused > max_refused * n_has:
        best = -1.0
    for r in sorted(rows, key=lambda r: -r["confidence"]):
        current += r["f1_if_answered"] - (0.0 if r["has_answer"] else 1.0)
        refused -= r["has_answer"]
        if current > best and (max_refused is None or refused <= max_refused * n_has):
            best, best_t = current, r["confidence"]
    return 100.0 * best / len(rows), float(min(best_t, 1.0))
