"""`qa eval`: score the system on a SQuAD v2.0 or CoQA file, the way the official scripts do."""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from qa.document import Document
from qa.metrics import best_threshold, normalize_answer, percentile, score, summarize


@dataclass
class Turn:
    id: str
    question: str
    golds: list[str]  # [] for unanswerable
    doc_id: str
    context: str  # the gold paragraph, for --gold-context


@dataclass
class QuestionSet:
    format: str  # "squad" or "coqa"
    documents: list[Document]
    conversations: list[list[Turn]] = field(default_factory=list)  # a SQuAD question is a one-turn conversation

    def __post_init__(self):
        """One document per distinct text: CoQA repeats the story for every conversation, and indexing the copies
        would fill the retrieved passages with the same chunk."""
        first: dict[str, str] = {}  # text -> id of its first document
        ids = {d.id: first.setdefault(d.text, d.id) for d in self.documents}
        self.documents = [d for d in self.documents if ids[d.id] == d.id]
        for conv in self.conversations:
            for t in conv:
                t.doc_id = ids.get(t.doc_id, t.doc_id)


def load_question_set(path: str | Path) -> QuestionSet:
    """Detect the format and read documents and questions."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a SQuAD or CoQA JSON file ({e})") from None
    if data and "paragraphs" in data[0]:
        return _squad(data)
    if data and "story" in data[0]:
        return _coqa(data)
    raise ValueError(f"{path}: neither SQuAD (data[].paragraphs) nor CoQA (data[].story)")


def _squad(data) -> QuestionSet:
    docs, convs = [], []
    for a, article in enumerate(data):
        doc_id = f"{a:03d}-{article.get('title', 'article')}"[:80]
        paragraphs = [p["context"] for p in article["paragraphs"]]
        docs.append(Document(doc_id, article.get("title", doc_id), "\n\n".join(paragraphs), "squad"))
        for p in article["paragraphs"]:
            for q in p["qas"]:
                golds = [] if q.get("is_impossible") else [x["text"] for x in q.get("answers", [])]
                convs.append([Turn(q["id"], q["question"], golds, doc_id, p["context"])])
    return QuestionSet("squad", docs, convs)


def _coqa(data) -> QuestionSet:
    docs, convs = [], []
    for story in data:
        doc_id = str(story["id"])
        docs.append(Document(doc_id, story.get("filename", doc_id), story["story"], "coqa"))
        extra = story.get("additional_answers", {}) or {}
        turns = []
        for q, a in zip(story["questions"], story["answers"]):
            golds = [a.get("span_text") or "", a.get("input_text") or ""]
            golds += [x.get("input_text", "") for alt in extra.values() for x in alt if x.get("turn_id") == q["turn_id"]]
            golds = [g for g in golds if normalize_answer(g) and normalize_answer(g) != "unknown"]
            turns.append(Turn(f"{doc_id}-{q['turn_id']}", q["input_text"], list(dict.fromkeys(golds)), doc_id,
                              story["story"]))
        convs.append(turns)
    return QuestionSet("coqa", docs, convs)


def _contains_gold(text: str, golds: list[str]) -> bool:
    norm = normalize_answer(text)
    return any(normalize_answer(g) and normalize_answer(g) in norm for g in golds)


def evaluate(path: str | Path, assistant=None, index_dir: str | Path | None = None, gold_context: bool = False,
             limit: int = 0, progress: bool = True, settings=None) -> dict:
    """Ask every question (turns with the earlier turns' gold answers as history) and score the answers."""
    from qa.assistant import Assistant

    qs = load_question_set(path)
    convs = qs.conversations
    if limit and limit < len(convs):  # evenly spaced, so every article is represented
        convs = [convs[int(i * len(convs) / limit)] for i in range(limit)]
    tmp = None
    if assistant is None:
        if index_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="qa-eval-")
            index_dir = tmp.name
            assistant = Assistant.load(index_dir=index_dir, settings=settings, documents=qs.documents)
        else:
            assistant = Assistant.load(index_dir=index_dir, settings=settings)
    threshold = assistant.settings.threshold
    if gold_context and assistant.settings.gold_context_threshold is not None:
        threshold = assistant.settings.gold_context_threshold
    rows = []
    turns = [t for conv in convs for t in conv]
    bar = _progress(len(turns), progress and sys.stderr.isatty())
    for conv in convs:
        history: list[tuple[str, str]] = []
        for turn in conv:
            rows.append(_ask(assistant, turn, history, gold_context, threshold))
            history.append((turn.question, turn.golds[0] if turn.golds else ""))
            bar()
    if tmp:
        tmp.cleanup()
    return report(rows, qs.format, threshold, gold_context)


def compare(path: str | Path, readers: list[str], limit: int = 0, progress: bool = True) -> dict[str, dict]:
    """Score several readers in one run: one index, the same retrieved passages, each reader in turn.

    `readers` are models.txt specs (`MODEL [@ SOURCE]`). Retrieval is deterministic, so every reader
    sees the same passages for a question; `same_passages` checks it.
    """
    from qa.assistant import Assistant
    from qa.models import parse_entry
    from qa.readers import make_reader

    qs = load_question_set(path)
    results = {}
    with tempfile.TemporaryDirectory(prefix="qa-compare-") as tmp:
        base = Assistant.load(index_dir=tmp, documents=qs.documents)
        for spec in readers:
            reader = make_reader(parse_entry("reader", spec))
            a = Assistant(base.settings, base.index, base.embedder, reader, reranker=base.reranker)
            results[spec] = evaluate(path, assistant=a, limit=limit, progress=progress)
    passages = [[r["passage_ids"] for r in res["predictions"]] for res in results.values()]
    for res in results.values():
        res["same_passages"] = all(p == passages[0] for p in passages)
    return results


def _ask(assistant, turn: Turn, history, gold_context: bool, threshold: float) -> dict:
    from qa.assistant import QuestionError

    t0 = time.perf_counter()
    row = {"id": turn.id, "question": turn.question, "gold": turn.golds, "has_answer": bool(turn.golds)}
    try:
        if gold_context:
            cands = assistant.reader.read(turn.question, [turn.context])
            q_vec, c_vec = assistant.embedder.encode([turn.question, turn.context])
            conf, best, x = assistant.best_candidate(turn.question, cands, [float(q_vec @ c_vec)])
            latency = time.perf_counter() - t0
            guess, passages, cited = (best.text if best else ""), [], turn.context
            span = (best.start, best.end) if best else None
        else:
            ans = assistant.ask(turn.question, history)
            latency = time.perf_counter() - t0
            # SQuAD and CoQA score the reader's span, whatever shape the chat gave: its own confidence decides
            guess, x = ans.candidate, list(ans.evidence.values())
            conf = assistant.span_confidence(x) if x else 0.0
            passages = assistant.retrieve(turn.question, history, 10)
            src = ans.cited or (ans.sources[0] if ans.sources else None)
            cited = src.text if src else ""
            span = src.span if src else None  # None unless it is the cited passage
    except QuestionError as e:
        conf, guess, passages, cited, span, x = 0.0, "", [], str(e), None, []
        latency = time.perf_counter() - t0
    abstained = conf < threshold or not guess
    pred = "" if abstained else guess
    row["em"], row["f1"] = score(turn.golds, pred)
    row["f1_if_answered"] = score(turn.golds, guess)[1] if turn.golds else 0.0
    row.update(prediction=pred, candidate=guess, confidence=conf, abstained=abstained,
               latency_s=latency, passage_ids=[p.chunk.id for p in passages],
               cited_passage=cited, span=span, features=x)
    if turn.golds and passages:
        hits = [i for i, p in enumerate(passages) if _contains_gold(p.chunk.text, turn.golds)]
        row["gold_rank"] = hits[0] + 1 if hits else None
    return row


def report(rows: list[dict], fmt: str, threshold: float, gold_context: bool) -> dict:
    out = summarize(rows)
    out["best_f1"], out["best_f1_thresh"] = best_threshold(rows)
    out.update(format=fmt, threshold=threshold, gold_context=gold_context)
    ranked = [r for r in rows if r["has_answer"] and "gold_rank" in r]
    if ranked:
        for k in (1, 3, 5):
            out[f"recall_at_{k}"] = sum(1 for r in ranked if r["gold_rank"] and r["gold_rank"] <= k) / len(ranked)
        out["mrr"] = sum(1 / r["gold_rank"] for r in ranked if r["gold_rank"]) / len(ranked)
    lat = [r["latency_s"] for r in rows]
    if lat:
        out["latency_p50_s"] = statistics.median(lat)
        out["latency_p95_s"] = percentile(lat, 0.95)
    has = [r for r in rows if r["has_answer"]]
    no = [r for r in rows if not r["has_answer"]]
    out["noans_refused"] = sum(r["abstained"] for r in no) / len(no) if no else None
    out["hasans_wrongly_refused"] = sum(r["abstained"] for r in has) / len(has) if has else None
    out["predictions"] = rows
    return out


def _progress(total: int, enabled: bool):
    if not enabled:
        return lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc="eval", unit="q", leave=False)
    return lambda: bar.update(1)


def calibrate(result: dict, max_refused: float | None = None) -> tuple[list[float], float, float]:
    """Fit the confidence weights on scored rows (right = F1 >= 0.5), then the best-F1 threshold
    among those that refuse at most `max_refused` of the answerable questions."""
    from qa.confidence import confidence, fit

    rows = [r for r in result["predictions"] if r["features"]]
    weights = fit([r["features"] for r in rows], [int(r["has_answer"] and r["f1_if_answered"] >= 0.5) for r in rows])
    rescored = [dict(r, confidence=confidence(r["features"], weights)) for r in rows]
    best_f1, thresh = best_threshold(rescored, max_refused)
    return weights, thresh, best_f1


def sweep(rows: list[dict], steps: int = 101) -> list[tuple[float, float, float]]:
    """(threshold, F1 %, abstention rate) over a grid of thresholds."""
    out = []
    for i in range(steps):
        t = i / (steps - 1)
        f1 = [r["f1_if_answered"] if r["confidence"] >= t and r["candidate"] else float(not r["has_answer"])
              for r in rows]
        abst = [r["confidence"] < t or not r["candidate"] for r in rows]
        out.append((t, 100 * sum(f1) / len(rows), sum(abst) / len(rows)))
    return out


def write_report(result: dict, directory: str | Path) -> Path:
    """An HTML page (misses first, cited passage with the span marked) and a threshold plot."""
    import html

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rows = result["predictions"]
    grid = sweep(rows)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([g[0] for g in grid], [g[1] for g in grid], label="F1 (%)")
    ax.plot([g[0] for g in grid], [100 * g[2] for g in grid], label="abstained (%)")
    ax.axvline(result["threshold"], color="gray", linestyle="--", label="threshold")
    ax.set_xlabel("confidence threshold")
    ax.legend()
    fig.tight_layout()
    fig.savefig(directory / "threshold.png", dpi=100)
    plt.close(fig)

    def passage(r):
        text = r.get("cited_passage") or ""
        if r.get("span"):
            s, e = r["span"]
            return html.escape(text[:s]) + "<mark>" + html.escape(text[s:e]) + "</mark>" + html.escape(text[e:])
        return html.escape(text)

    body = []
    for r in sorted(rows, key=lambda r: (r["f1"], r["id"])):
        gold = " | ".join(r["gold"]) or "(unanswerable)"
        pred = r["prediction"] or "(abstained)"
        body.append(f"<tr class={'hit' if r['f1'] >= 0.5 else 'miss'}><td>{html.escape(r['question'])}</td>"
                    f"<td>{html.escape(gold)}</td><td>{html.escape(pred)}</td><td>{r['confidence']:.2f}</td>"
                    f"<td>{r['f1']:.2f}</td><td>{passage(r)}</td></tr>")
    keys = ["exact", "f1", "HasAns_f1", "NoAns_f1", "best_f1", "recall_at_3", "latency_p50_s"]
    summary = " · ".join(f"{k}: {result[k]:.3g}" for k in keys if isinstance(result.get(k), (int, float)))
    page = f"""<!doctype html><meta charset=utf-8><title>qa eval</title>
<style>body{{font:14px sans-serif;margin:2em}}td{{vertical-align:top;padding:4px;border-bottom:1px solid #ddd}}
tr.miss td:first-child{{border-left:4px solid #c33}}tr.hit td:first-child{{border-left:4px solid #3a3}}
mark{{background:#ffe066}}</style><h1>Evaluation</h1><p>{html.escape(summary)}</p><img src=threshold.png>
<table><tr><th>question<th>gold<th>prediction<th>conf<th>F1<th>cited passage</tr>{''.join(body)}</table>"""
    (directory / "index.html").write_text(page, encoding="utf-8")
    return directory / "index.html"
