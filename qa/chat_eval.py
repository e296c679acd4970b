"""`qa eval` on chat-style question sets: key phrases and a length cap instead of SQuAD's F1.

Formats:
  JSON  {"version": "chat-1", "documents": [{"id", "path" | "text", "title"?}], "items": [...]}; an item has
        question, answers (key phrases; [] = the documents do not say), max_words, and optionally kind, tags,
        history ([[question, answer], ...]), chain, doc. Document paths are relative to the file.
  CSV / JSONL  a `question` column; every column whose name starts with `answer` or `expected` holds a key
        phrase (all empty: not in the documents); optional `history` (a JSON list of [question, answer] pairs,
        or earlier questions one per line), `max_words`, `kind`, `id`. Scored against the indexed documents.

An answer succeeds when it is given, holds a key phrase and is at most max_words long; a question the
documents do not answer succeeds when it is refused. Everything else is a wrong answer or a wrong refusal.
"""
from __future__ import annotations

import csv
import html
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from qa.document import Document, load as load_document
from qa.metrics import normalize_answer, percentile
from qa.question import EXPLANATION, FACTOID, SUMMARY, YESNO

DEFAULT_MAX_WORDS = {"factoid": 25, "explanation": 70, "summary": 130, "yesno": 70, "unanswerable": 25}
# item kinds named like a question kind (qa.question) should be read as that kind; "unanswerable" may be any
QUESTION_KINDS = (FACTOID, EXPLANATION, SUMMARY, YESNO)


@dataclass
class ChatItem:
    id: str
    question: str
    answers: list[str]
    max_words: int
    kind: str = ""
    tags: list[str] = field(default_factory=list)
    history: list[tuple[str, str]] = field(default_factory=list)
    doc: str = ""  # the document the item is about, when the set says


@dataclass
class ChatSet:
    items: list[ChatItem]
    documents: list[Document] | None  # None: ask the indexed documents


def is_chat_file(path: str | Path) -> bool:
    path = Path(path)
    if path.suffix.lower() in (".csv", ".jsonl", ".tsv"):
        return True
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(head, dict) and str(head.get("version", "")).startswith("chat")


def _history(value) -> list[tuple[str, str]]:
    if not value:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [(q.strip(), "") for q in value.splitlines() if q.strip()]
    out = []
    for turn in value:
        if isinstance(turn, str):
            out.append((turn, ""))
        elif isinstance(turn, (list, tuple)) and turn:
            out.append((str(turn[0]), str(turn[1]) if len(turn) > 1 else ""))
    return out


def _item(row: dict, n: int) -> ChatItem:
    question = str(row.get("question") or "").strip()
    if not question:
        raise ValueError(f"row {n}: no question")
    if isinstance(row.get("answers"), list):
        answers = [str(a) for a in row["answers"] if str(a).strip()]
    else:
        answers = [str(v).strip() for k, v in row.items()
                   if k and k.lower().startswith(("answer", "expected")) and v is not None and str(v).strip()]
    kind = str(row.get("kind") or "")
    if not kind:
        kind = "unanswerable" if not answers else ""
    cap = row.get("max_words")
    cap = int(cap) if str(cap or "").strip() else DEFAULT_MAX_WORDS.get(kind, 70)
    tags = row.get("tags") or []
    tags = [t for t in (tags.split(",") if isinstance(tags, str) else tags) if t]
    return ChatItem(str(row.get("id") or n), question, answers, cap, kind, tags, _history(row.get("history")),
                    str(row.get("doc") or ""))


def load_chat_set(path: str | Path) -> ChatSet:
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read it ({e})") from None
    if suffix in (".csv", ".tsv"):
        rows = list(csv.DictReader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ","))
        if not rows or "question" not in rows[0]:
            raise ValueError(f"{path}: a CSV question set needs a 'question' column")
        return ChatSet([_item(r, n) for n, r in enumerate(rows, 2)], None)
    if suffix == ".jsonl":
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as e:
            raise ValueError(f"{path}: not JSON Lines ({e})") from None
        return ChatSet([_item(r, n) for n, r in enumerate(rows, 1)], None)
    data = json.loads(text)
    docs = []
    for d in data.get("documents", []):
        if "text" in d:
            docs.append(Document(d["id"], d.get("title", d["id"]), d["text"], "chat"))
        else:
            doc = load_document(path.parent / d["path"], doc_id=d["id"])
            docs.append(Document(doc.id, d.get("title", doc.title), doc.text, doc.source))
    return ChatSet([_item(r, n) for n, r in enumerate(data["items"], 1)], docs or None)


def judge(item: ChatItem, answer_text: str, abstained: bool) -> str:
    """'success', 'wrong' (an answer without a key phrase, too long, or to an unanswerable question) or 'refused'."""
    if not item.answers:
        return "success" if abstained else "wrong"
    if abstained:
        return "refused"
    text = normalize_answer(answer_text)
    hit = any(normalize_answer(a) and normalize_answer(a) in text for a in item.answers)
    return "success" if hit and len(answer_text.split()) <= item.max_words else "wrong"


def evaluate_chat(path: str | Path, index_dir=None, assistant=None, settings=None) -> dict:
    import tempfile

    from qa.assistant import Assistant, QuestionError

    chat = load_chat_set(path)
    tmp = None
    if assistant is None:
        if chat.documents and index_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="qa-eval-")
            assistant = Assistant.load(index_dir=tmp.name, settings=settings, documents=chat.documents)
        else:
            assistant = Assistant.load(index_dir=index_dir, settings=settings)
    rows = []
    for item in chat.items:
        t0 = time.perf_counter()
        try:
            ans = assistant.ask(item.question, item.history)
            text, abstained, shape, qkind, score = ans.text, ans.abstained, ans.kind, ans.question_kind, ans.score
            cited = ans.cited.doc_id if ans.cited else ""
        except QuestionError as e:
            text, abstained, shape, qkind, score, cited = str(e), True, "refusal", "", 0.0, ""
        rows.append({"id": item.id, "doc": item.doc, "question": item.question, "kind": item.kind, "tags": item.tags,
                     "history": item.history, "answers": item.answers, "max_words": item.max_words,
                     "prediction": text, "abstained": abstained, "shape": shape, "question_kind": qkind,
                     "confidence": score, "cited_doc": cited, "words": len(text.split()),
                     "outcome": judge(item, text, abstained), "latency_s": time.perf_counter() - t0})
    if tmp:
        tmp.cleanup()
    return chat_report(rows)


def sentence_threshold(rows: list[dict], grid=tuple(i / 100 for i in range(5, 96))) -> dict:
    """The sentence-answer threshold with the most successes less wrong answers (a wrong answer costs more than a
    refusal), from rows scored with threshold 0; and the same choice cross-validated by document (chosen on the
    other documents' items, scored on each one's)."""
    rows = [r for r in rows if r["shape"] in ("sentence", "evidence")]

    def successes(subset, t):
        return sum((r["outcome"] == "success") if r["confidence"] >= t else not r["answers"] for r in subset)

    def utility(subset, t):
        wrong = sum(r["confidence"] >= t and r["outcome"] != "success" for r in subset)
        return successes(subset, t) - wrong

    def best(subset):
        return max(grid, key=lambda t: (utility(subset, t), -t))

    docs = sorted({r["doc"] for r in rows})
    held = sum(successes([r for r in rows if r["doc"] == d], best([r for r in rows if r["doc"] != d])) for d in docs)
    t = best(rows)
    return {"threshold": t, "items": len(rows), "success": successes(rows, t) / max(len(rows), 1),
            "success_cross_validated": held / max(len(rows), 1) if len(docs) > 1 else None}


def _rates(rows: list[dict]) -> dict:
    n = len(rows)
    return {"n": n, **{k: sum(r["outcome"] == o for r in rows) / n if n else None
                       for k, o in (("success", "success"), ("wrong", "wrong"), ("wrongly_refused", "refused"))}}


def chat_report(rows: list[dict]) -> dict:
    out = {"format": "chat", "total": len(rows), **_rates(rows)}
    out["by_kind"] = {k: _rates([r for r in rows if r["kind"] == k]) for k in sorted({r["kind"] for r in rows})}
    tags = sorted({t for r in rows for t in r["tags"]})
    out["by_tag"] = {t: _rates([r for r in rows if t in r["tags"]]) for t in tags}
    typed = [r for r in rows if r["kind"] in QUESTION_KINDS]
    if typed:
        out["kind_accuracy"] = sum(r["kind"] == r["question_kind"] for r in typed) / len(typed)
    answerable = [r for r in rows if r["answers"]]
    out["answerable_refused"] = sum(r["abstained"] for r in answerable) / len(answerable) if answerable else None
    unanswerable = [r for r in rows if not r["answers"]]
    out["unanswerable_refused"] = sum(r["abstained"] for r in unanswerable) / len(unanswerable) if unanswerable else None
    lat = [r["latency_s"] for r in rows]
    if lat:
        out["latency_p50_s"], out["latency_p95_s"] = statistics.median(lat), percentile(lat, 0.95)
    out["predictions"] = rows
    return out


def write_chat_report(result: dict, directory: str | Path) -> Path:
    """An HTML page: rates by kind and by tag, then every item, misses first."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    e = html.escape

    def pct(v):
        return "–" if v is None else f"{100 * v:.0f}%"

    def table(title, groups):
        rows = "".join(f"<tr><td>{e(k)}</td><td>{g['n']}</td><td>{pct(g['success'])}</td><td>{pct(g['wrong'])}</td>"
                       f"<td>{pct(g['wrongly_refused'])}</td></tr>" for k, g in groups.items())
        return (f"<h2>{e(title)}</h2><table><tr><th>{e(title)}<th>items<th>success<th>wrong answer"
                f"<th>wrongly refused</tr>{rows}</table>")

    order = {"wrong": 0, "refused": 1, "success": 2}
    items = []
    for r in sorted(result["predictions"], key=lambda r: (order[r["outcome"]], r["id"])):
        hist = "".join(f"<div class=h>{e(q)} → {e(a)}</div>" for q, a in r["history"])
        items.append(f"<tr class={r['outcome']}><td>{e(r['id'])}</td><td>{e(r['kind'])}</td><td>{hist}{e(r['question'])}"
                     f"</td><td>{e(' | '.join(r['answers']) or '(not in the documents)')}</td><td>{e(r['shape'])}</td>"
                     f"<td>{e(r['prediction'])}</td><td>{r['confidence']:.2f}</td><td>{e(r['outcome'])}</td></tr>")
    page = f"""<!doctype html><meta charset=utf-8><title>qa eval (chat)</title>
<style>body{{font:14px sans-serif;margin:2em}}td{{vertical-align:top;padding:4px;border-bottom:1px solid #ddd}}
tr.wrong td:first-child{{border-left:4px solid #c33}}tr.refused td:first-child{{border-left:4px solid #d90}}
tr.success td:first-child{{border-left:4px solid #3a3}}.h{{color:#777;font-size:.9em}}</style>
<h1>Chat evaluation</h1><p>{result['total']} items · success {pct(result['success'])} · wrong {pct(result['wrong'])}
 · wrongly refused {pct(result['wrongly_refused'])} · kind accuracy {pct(result.get('kind_accuracy'))}</p>
{table('kind', result['by_kind'])}{table('tag', result['by_tag']) if result['by_tag'] else ''}
<h2>Items</h2><table><tr><th>id<th>kind<th>question<th>key phrases<th>shape<th>answer<th>conf<th>outcome</tr>
{''.join(items)}</table>"""
    (directory / "index.html").write_text(page, encoding="utf-8")
    return directory / "index.html"
