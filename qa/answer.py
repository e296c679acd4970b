"""What `Assistant.ask` returns."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ABSTAIN_TEXT = "The article does not say."

# The shapes of an answer (`Answer.kind`):
SPAN = "span"  # a short verbatim span (factoid questions)
SENTENCE = "sentence"  # the sentence or two that answer a why/how/open question; `highlight` marks the key part
SUMMARY = "summary"  # extractive summary: one sentence per line, each a source with its offsets
EVIDENCE = "evidence"  # yes/no questions: the sentence that settles it
REFUSAL = "refusal"  # the documents do not say
KINDS = (SPAN, SENTENCE, SUMMARY, EVIDENCE, REFUSAL)


@dataclass
class Source:
    """A retrieved passage; offsets are characters in the cleaned document's text."""

    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float  # retrieval score (reciprocal-rank fusion of dense and BM25)
    answer_start: int | None = None  # the answer span, for the cited passage only
    answer_end: int | None = None

    @property
    def span(self) -> tuple[int, int] | None:
        """The answer span in offsets of this passage's `text`; None when the passage is not the cited one."""
        return None if self.answer_start is None else (self.answer_start - self.start, self.answer_end - self.start)


@dataclass
class Answer:
    """An answer grounded in the sources (its shape is `kind`), or an explicit abstention."""

    text: str
    abstained: bool
    score: float  # confidence in [0, 1]
    sources: list[Source] = field(default_factory=list)
    kind: str = SPAN  # one of KINDS
    highlight: tuple[int, int] | None = None  # the key part of `text` (sentence and evidence answers)
    question_kind: str = ""  # what the question asked for: factoid, explanation, summary or yesno
    question: str = ""
    resolved_question: str = ""  # the question as read, after resolving a follow-up
    candidate: str = ""  # the best span found, also when the confidence was too low to answer
    evidence: dict = field(default_factory=dict)  # the features behind `score` (see qa.confidence)
    reader: str = ""
    timings: dict = field(default_factory=dict)  # seconds per stage

    @property
    def cited(self) -> Source | None:
        return next((s for s in self.sources if s.answer_start is not None), None)

    def to_dict(self) -> dict:
        return asdict(self)
