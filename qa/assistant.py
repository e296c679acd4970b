"""The pipeline: question (+ history) -> retrieval -> reader -> grounded answer or abstention."""
from __future__ import annotations

import dataclasses
import logging
import math
import re
import threading
import time
import unicodedata
from pathlib import Path

from qa.answer import ABSTAIN_TEXT, EVIDENCE, REFUSAL, SENTENCE, SPAN, SUMMARY, Answer, Source
from qa.confidence import DEFAULT_WEIGHTS, confidence, features, sigmoid
from qa.conversation import asks_on_its_own, elliptical, repeats, resolve as resolve_followup
from qa.document import Document, load as load_document
from qa.index import Embedder, Index, IndexLoadError, stored_documents
from qa.models import read_models_file, resolve
from qa.question import EXPLANATION, YESNO, Speller, classify, expand_shorthand, statement, summary_topic
from qa.question import SUMMARY as SUMMARY_Q
from qa.readers import Reader, make_reader
from qa.reranker import Reranker
from qa.retrieval import Retriever
from qa.selector import SentenceSelector
from qa.settings import DEFAULT_DOCUMENT, Settings
from qa.shapes import SentencePicker, summary_sources
from qa.summarize import Summarizer

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

    def __init__(self, settings: Settings, index: Index, embedder: Embedder, reader: Reader,
                 selector: SentenceSelector | None = None, reranker: Reranker | None = None,
                 sentence_scorer: Reranker | None = None):
        self.settings = settings
        self.embedder = embedder
        self.reader = reader
        self.reranker = reranker if settings.rerank_k else None
        self.picker = SentencePicker(embedder, selector, sentence_scorer,
                                     selector_weight=settings.sentence_selector_weight,
                                     scorer_weight=settings.sentence_scorer_weight,
                                     reader_weight=settings.sentence_reader_weight,
                                     passage_weight=settings.sentence_passage_weight) if selector else None
        self.summarizer = Summarizer(embedder, settings.summary_words)
        self._index = index
        self._retriever = Retriever(index, embedder, settings.rrf_k)
        self._speller = Speller([d.text for d in index.documents.values()])
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
        selector = SentenceSelector(resolve(models["selector"])) if "selector" in models else None
        reranker = Reranker(resolve(models["reranker"]), int8=settings.reranker_int8,
                            bf16=settings.reranker_bf16) if "reranker" in models else None
        scorer = Reranker(resolve(models["sentence_scorer"]), bf16=settings.reranker_bf16) \
            if "sentence_scorer" in models else None
        reader = make_reader(models["reader"], settings.reader_int8, settings.reader_bf16)
        if reader.calibration_key not in settings.confidence_weights:
            log.warning("settings.json has no span-confidence weights for %s; `qa calibrate` fits them",
                        reader.calibration_key)
        return cls(settings, index, embedder, reader, selector, reranker, scorer)

    @property
    def index(self) -> Index:
        return self._index

    def warm_up(self) -> None:
        self.embedder.warm_up()
        self.reader.warm_up()
        if self.picker:
            self.picker.warm_up()
        if self.reranker:
            self.reranker.warm_up()

    def add_documents(self, documents: list[Document]) -> None:
        """Index more documents and persist, atomically. Only they are embedded; a document with an id already
        indexed replaces that one."""
        s = self.settings
        with self._write_lock:
            replaced = {d.id for d in documents} & set(self._index.documents)
            index = self._index.without(replaced) if replaced else self._index
            self._swap(index.extend(documents, self.embedder, s.chunk_words, s.chunk_overlap))

    def remove_documents(self, doc_ids: list[str]) -> None:
        """Drop documents (their chunks and vectors) and persist, atomically."""
        with self._write_lock:
            self._swap(self._index.without(set(doc_ids)))

    def _swap(self, index: Index) -> None:
        index.save(self.settings.index_dir)
        self._index, self._retriever = index, Retriever(index, self.embedder, self.settings.rrf_k)
        self._speller = Speller([d.text for d in index.documents.values()])

    def span_confidence(self, x: list[float]) -> float:
        """The calibrated confidence of a span from its evidence features (qa.confidence)."""
        return confidence(x, self.settings.confidence_weights.get(self.reader.calibration_key, DEFAULT_WEIGHTS))

    def with_index(self, index: Index, settings: Settings | None = None) -> "Assistant":
        """An assistant over another index, sharing this one's loaded models and its summaries' sentence vectors."""
        other = Assistant(settings or self.settings, index, self.embedder, self.reader,
                          self.picker.selector if self.picker else None, self.reranker,
                          self.picker.scorer if self.picker else None)
        other.summarizer = self.summarizer  # its cache is keyed by document text, so any index can share it
        return other

    def with_documents(self, documents: list[Document]) -> "Assistant":
        """This assistant with `documents` added in memory only (one visitor's uploads): the models are shared,
        the shared index and its files are not touched."""
        s = self.settings
        return self.with_index(self._index.extend(documents, self.embedder, s.chunk_words, s.chunk_overlap))

    def best_candidate(self, question: str, candidates, similarities: list[float]):
        """(calibrated confidence, candidate, evidence) of the most confident candidate."""
        scored = []
        for c in candidates:
            x = features(question, c.text, _logit(c.confidence), similarities[c.passage])
            scored.append((self.span_confidence(x), c, x))
        return max(scored, key=lambda t: t[0], default=(0.0, None, []))

    def understand(self, question: str, history: list[tuple[str, str]]) -> tuple[str, str, str]:
        """(search query, question as the reader gets it, kind): shorthand and typos undone, follow-ups resolved."""
        question = self._speller(expand_shorthand(question))
        # the turns a follow-up is resolved against are read as the question is ("whats … n china")
        history = [(self._speller(expand_shorthand(q)), a) for q, a in history[-self.settings.history_turns:]]
        search, reading = resolve_followup(question, history, self.settings.history_turns, self._speller.names,
                                           self._speller.common)
        return search, reading, classify(question if history and asks_on_its_own(question) else reading)

    def _candidates(self, search: str, reading: str, whole: bool, k: int):
        """The fused passages for a question, best first: `k`, or `rerank_k` for the reranker to choose from. A
        follow-up's search carries the last turn, which can outweigh the question's own words, so for a `whole`
        question the best passages for it alone join in too."""
        s = self.settings
        passages = self._retriever.search(search, max(k, s.rerank_k) if self._reorders(search, reading) else k)
        if whole and search != reading:
            seen = {p.chunk.id for p in passages}
            passages += [p for p in self._retriever.search(reading, s.followup_extra_k) if p.chunk.id not in seen]
        return passages

    def _reorders(self, search: str, reading: str) -> bool:
        """Whether the reranker picks this turn's passages. A turn searched with the one before ("What is the city
        sometimes called?" after "Harbin") keeps the fused order: the reranker was trained on questions that stand
        alone, and given the turn before as well it did worse (README)."""
        return self.reranker is not None and search == reading

    def _rerank(self, search: str, reading: str, passages, k: int):
        """The best `k`, read jointly with the question by the reranker, or (a turn it does not reorder) the
        passages as fused, scored all the same: a sentence answer's score weighs its passage's probability."""
        if self.reranker is None:
            return passages
        if not self._reorders(search, reading):
            return self.reranker.score(reading, passages)
        return self.reranker.rerank(reading, passages, k, self.settings.rerank_fusion)

    def retrieve(self, question: str, history: list[tuple[str, str]] | None = None, k: int | None = None):
        """The passages `ask` would read, best first."""
        question = clean_question(question, self.settings.max_question_chars)
        search, reading, _ = self.understand(question, list(history or []))
        k = k or self.settings.top_k
        return self._rerank(search, reading, self._candidates(search, reading, not elliptical(question), k), k)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        """Answer from the documents in the shape the question asks for, or abstain. Raises QuestionError for
        unusable input."""
        t0 = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        history = [(clean_question(q, 10**6), a or "") for q, a in (history or []) if q and str(q).strip()]
        search, reading, kind = self.understand(question, history)
        base = dict(question=question, resolved_question=reading, question_kind=kind, reader=self.reader.name)
        if kind == SUMMARY_Q:
            return self._summary(self._summary_documents(reading, history), base, t0)
        passages = self._candidates(search, reading, not elliptical(question), self.settings.top_k)
        t_rerank = time.perf_counter()
        passages = self._rerank(search, reading, passages, self.settings.top_k)
        t1 = time.perf_counter()
        asked = statement(reading) if kind == YESNO else reading  # its evidence is read for what it asserts
        # a short follow-up asks for something the last turn did not say: not its answer ("Why?"), nor words of its
        # question ("where is that" after "Which Chinese city did Putin visit?": not "Chinese city")
        last_q, said = history[-1] if history and elliptical(question) else ("", "")
        candidates = self._read(asked, passages,
                                (lambda t: repeats(t, said) or repeats(t, last_q)) if last_q else None)
        t2 = time.perf_counter()
        sources = [Source(p.chunk.doc_id, p.chunk.title, p.chunk.text, p.chunk.start, p.chunk.end, p.score)
                   for p in passages]
        conf, best, evidence = self.best_candidate(asked, candidates, [p.dense for p in passages])
        base.update(candidate=best.text if best else "",
                    evidence=dict(zip(("bias", "reader", "retrieval", "type_match"), evidence)))
        if kind in (EXPLANATION, YESNO) and self.picker is not None:
            ans = self._sentence(asked, kind, passages, sources, candidates, base, said)
        else:
            ans = self._span(conf, best, sources, base)
        ans.timings = {"retrieval_s": t1 - t0, "rerank_s": t1 - t_rerank, "reader_s": t2 - t1,
                       "total_s": time.perf_counter() - t0}
        return ans

    def _read(self, question: str, passages, exclude):
        """The reader's candidates, each passage read under its head (`Chunk.head`: over the five chat sets 9 more
        answers right, SQuAD-format F1 +2.1, CoQA F1 +3.8; README). Offsets are into the chunk's own text; a span
        in the head is dropped, the chunk that holds the title answers for it."""
        heads = [len(p.chunk.head) for p in passages]
        return [dataclasses.replace(c, start=c.start - heads[c.passage], end=c.end - heads[c.passage])
                for c in self.reader.read(question, [p.chunk.headed for p in passages], exclude)
                if c.start >= heads[c.passage]]

    def _span(self, conf, best, sources: list[Source], base: dict) -> Answer:
        if best is None or conf < self.settings.threshold:
            return Answer(ABSTAIN_TEXT, True, conf, sources, kind=REFUSAL, **base)
        cited = sources.pop(best.passage)
        cited.answer_start, cited.answer_end = cited.start + best.start, cited.start + best.end
        return Answer(best.text, False, conf, [cited, *sources], kind=SPAN, **base)

    def _sentence(self, reading: str, kind: str, passages, sources: list[Source], candidates, base: dict,
                  said: str) -> Answer:
        """The sentence (or two) that answers, not one the last answer (`said`) gave; its key part is the reader's
        span when it lies inside."""
        probs = [sigmoid(p.rerank) for p in passages] if self.reranker else None
        pick = self.picker.pick(reading, [p.chunk.text for p in passages], candidates, probs, said)
        conf = pick.score if pick else 0.0
        if pick is None or conf < self.settings.sentence_threshold:
            return Answer(ABSTAIN_TEXT, True, conf, sources, kind=REFUSAL, **base)
        text = passages[pick.passage].chunk.text[pick.start:pick.end]
        inside = [c for c in candidates if c.passage == pick.passage and pick.start <= c.start and c.end <= pick.end]
        if not inside:  # read the sentence itself for its key part
            inside = [dataclasses.replace(c, passage=pick.passage, start=c.start + pick.start, end=c.end + pick.start)
                      for c in self.reader.read(reading, [text])[:1]]
        prefix = "The article says: " if kind == YESNO else ""
        highlight = None
        if inside:
            c = inside[0]
            highlight = (len(prefix) + c.start - pick.start, len(prefix) + c.end - pick.start)
        cited = sources.pop(pick.passage)
        cited.answer_start, cited.answer_end = cited.start + pick.start, cited.start + pick.end
        return Answer(prefix + text, False, conf, [cited, *sources],
                      kind=EVIDENCE if kind == YESNO else SENTENCE, highlight=highlight, **base)

    def _summary_documents(self, question: str, history: list[tuple[str, str]]) -> list[Document]:
        """The document a summary request is about: the one its words name, else the one the conversation
        was about (where the last answer came from), else all of them, newest first (an overview)."""
        docs = self._index.documents
        topic = summary_topic(question)
        if len(docs) > 1 and topic:
            votes: dict[str, float] = {}
            for p in self._retriever.search(topic, self.settings.top_k):
                votes[p.chunk.doc_id] = votes.get(p.chunk.doc_id, 0.0) + p.score
            return [docs[max(votes, key=votes.get)]]
        for _, answer in reversed(history):
            holder = next((d for d in docs.values() if len(answer) > 3 and answer in d.text), None)
            if holder is not None:
                return [holder]
        return list(docs.values())[::-1]  # newest first: a document just added is the likeliest to be meant

    def _summary(self, docs: list[Document], base: dict, t0: float) -> Answer:
        """An extractive summary of the document (an overview of several), each sentence a source with its offsets."""
        t1 = time.perf_counter()  # finding the document is this answer's retrieval
        if len(docs) == 1:
            picked = [(docs[0], s) for s in self.summarizer.summarize(docs[0])]
        else:  # none, or several and nothing to say which
            picked = self.summarizer.overview(docs)
        if not picked:
            return Answer(ABSTAIN_TEXT, True, 0.0, [], kind=REFUSAL, **base)
        t2 = time.perf_counter()
        return Answer("\n".join(s.text for _, s in picked), False, 1.0, summary_sources(picked, 1.0), kind=SUMMARY,
                      **base, timings={"retrieval_s": t1 - t0, "reader_s": 0.0, "summary_s": t2 - t1,
                                       "total_s": t2 - t0})
