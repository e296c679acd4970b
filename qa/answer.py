"""What `Assistant.ask` returns."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ABSTAIN_TEXT = "The article does not say."


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


@dataclass
class Answer:
    """An answer (a verbatim span of a source) or an explicit abstention."""

    text: str
    abstained: bool
    score: float  # confidence in [0, 1]
    sources: list[Source] = field(default_factory=list)
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
