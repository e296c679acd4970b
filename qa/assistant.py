"""The pipeline: question (+ history) -> retrieval -> reader -> grounded answer or abstention."""
from __future__ import annotations

import logging
import math
import re
import threading
import time
import unicodedata
from pathlib import Path

from qa.answer import ABSTAIN_TEXT, Answer, Source
from qa.confidence import DEFAULT_WEIGHTS, confidence, features
from qa.conversation import resolve as resolve_followup
from qa.document import Document, load as load_document
from qa.index import Embedder, Index, IndexLoadError, stored_documents
from qa.models import read_models_file, resolve
from qa.readers import Reader, make_reader
from qa.retrieval import Retriever
from qa.settings import DEFAULT_DOCUMENT, Settings

log = logging.getLogger("qa")


class QuestionError(ValueError):
    """The question cannot be asked as given; the message says why, for the user."""


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")  # "<b>", "</p>", "<img src=x>"; not "3 < 5 > 2"


def clean_question(question, max_chars: int) -> str:
    if isinstance(question, (bytes, bytearray)):
        question = bytes(question).decode("utf-8", errors="replace")
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    if len(question) > max_chars * 4:  # refuse before doing any work on a huge input
        raise QuestionError(f"The question is too long ({len(question):,} characters); keep it under {max_chars:,}.")
    question = unicodedata.normalize("NFC", question)
    question = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") else ch for ch in question)
    question = _TAG.sub(" ", question)  # pasted markup is not part of the question (the page shows it escaped)
    question = " ".join(question.replace("\ufffd", " ").split())
    if not question:
        raise QuestionError("Please type a question.")
    if len(question) > max_chars:
        raise QuestionError(f"The question is too long ({len(question):,} characters); keep it under {max_chars:,}.")
    if not any(ch.isalnum() for ch in question):
        raise QuestionError("The question has no readable words.")
    return question


def default_documents() -> list[Document]:
    return [load_document(DEFAULT_DOCUMENT, doc_id="article")]


def open_index(settings: Settings, embedder: Embedder) -> Index:
    """Load the saved index; build it if missing, rebuild it (and say why) if stale or corrupt."""
    directory = Path(settings.index_dir)
    try:
        return Index.load(directory, embedder.model_id, settings.chunk_words, settings.chunk_overlap)
    except IndexLoadError as e:
        docs = stored_documents(directory) or default_documents()
        if directory.exists():
            log.warning("index problem: %s; rebuilding it from %d document(s)", e, len(docs))
    index = Index.build(docs, embedder, settings.chunk_words, settings.chunk_overlap)
    index.save(directory)
    return index


class Assistant:
    """Answers questions about the indexed documents. Build with `Assistant.load()`."""

    def __init__(self, settings: Settings, index: Index, embedder: Embedder, reader: Reader):
        self.settings = settings
        self.embedder = embedder
        self.reader = reader
        self._index = index
        self._retriever = Retriever(index, embedder, settings.rrf_k)
        self._write_lock = threading.Lock()

    @classmethod
    def load(cls, index_dir: str | Path | None = None, settings: Settings | None = None,
             documents: list[Document] | None = None) -> "Assistant":
        """Open (or build) the index, or index `documents` afresh; models load lazily, on first use."""
        settings = settings or Settings.load()
        if index_dir is not None:
            settings.index_dir = str(index_dir)
        models = read_models_file(settings.models_file)
        emb = models["embedder"]
        embedder = Embedder(emb.model, resolve(emb), settings.onnx_query)
        if documents is not None:
            index = Index.build(documents, embedder, settings.chunk_words, settings.chunk_overlap)
            index.save(settings.index_dir)
        else:
            index = open_index(settings, embedder)
        return cls(settings, index, embedder, make_reader(models["reader"]))

    @property
    def index(self) -> Index:
        return self._index

    def warm_up(self) -> None:
        self.embedder.warm_up()
        self.reader.warm_up()

    def add_documents(self, documents: list[Document]) -> None:
        """Index more documents (a document with an existing id replaces it) and persist, atomically."""
        with self._write_lock:
            docs = {**self._index.documents, **{d.id: d for d in documents}}
            index = Index.build(list(docs.values()), self.embedder, self.settings.chunk_words,
                                self.settings.chunk_overlap)
            index.save(self.settings.index_dir)
            self._index, self._retriever = index, Retriever(index, self.embedder, self.settings.rrf_k)

    def best_candidate(self, question: str, candidates, similarities: list[float]):
        """(calibrated confidence, candidate, evidence) of the most confident candidate."""
        weights = self.settings.confidence_weights.get(self.reader.name, DEFAULT_WEIGHTS)
        scored = []
        for c in candidates:
            x = features(question, c.text, _logit(c.confidence), similarities[c.passage])
            scored.append((confidence(x, weights), c, x))
        return max(scored, key=lambda t: t[0], default=(0.0, None, []))

    def retrieve(self, question: str, history: list[tuple[str, str]] | None = None, k: int | None = None):
        """The passages `ask` would read, best first."""
        question = clean_question(question, self.settings.max_question_chars)
        search, _ = resolve_followup(question, list(history or []), self.settings.history_turns)
        return self._retriever.search(search, k or self.settings.top_k)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        """Answer from the documents, or abstain. Raises QuestionError for unusable input."""
        t0 = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        history = [(clean_question(q, 10**6), a or "") for q, a in (history or []) if q and str(q).strip()]
        search, reading = resolve_followup(question, history, self.settings.history_turns)
        retriever = self._retriever
        passages = retriever.search(search, self.settings.top_k)
        t1 = time.perf_counter()
        candidates = self.reader.read(reading, [p.chunk.text for p in passages])
        t2 = time.perf_counter()
        sources = [Source(p.chunk.doc_id, p.chunk.title, p.chunk.text, p.chunk.start, p.chunk.end, p.score)
                   for p in passages]
        conf, best, evidence = self.best_candidate(reading, candidates, [p.dense for p in passages])
        abstained = best is None or conf < self.settings.threshold
        if best is not None and not abstained:
            cited = sources.pop(best.passage)
            cited.answer_start = cited.start + best.start
            cited.answer_end = cited.start + best.end
            sources.insert(0, cited)
        timings = {"retrieval_s": t1 - t0, "reader_s": t2 - t1, "total_s": time.perf_counter() - t0}
        return Answer(
            text=ABSTAIN_TEXT if abstained else best.text,
            abstained=abstained,
            score=conf,
            sources=sources,
            question=question,
            resolved_question=reading,
            candidate=best.text if best else "",
            evidence=dict(zip(("bias", "reader", "retrieval", "type_match"), evidence)),
            reader=self.reader.name,
            timings=timings,
        )
