"""The contract every reader fills: question + passage texts in, grounded span candidates out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass
class Candidate:
    """A verbatim span of one of the passages handed to the reader."""

    passage: int  # index into the passages given to `read`
    start: int  # character offsets into that passage's text
    end: int
    text: str
    score: float  # the reader's raw evidence (higher is better); its scale is the reader's own
    confidence: float  # the reader's belief in [0, 1] that this span answers the question


class Reader(Protocol):
    name: str
    # what its span-confidence weights are kept under in settings.json (`qa calibrate`): they are fitted to one
    # model's scores, so each model has its own
    calibration_key: str

    def warm_up(self) -> None:
        """Load weights; called once, lazily."""

    def read(self, question: str, passages: list[str], exclude=None) -> list[Candidate]:
        """Best span per passage, best first; an empty list when nothing fits. `exclude`, if given, tests a span's
        text: the best span of a passage that it does not exclude ("and in euros?" wants no span the last answer
        gave)."""
