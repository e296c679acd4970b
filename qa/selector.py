"""Answer-sentence selector: P(this sentence answers the question), for sentence and evidence answers.

A logistic regression over the embedder's vectors (their elementwise product and cosine) and a few
lexical features, trained on SQuAD (`qa train-selector`): the sentence that holds the answer is the
positive; the other sentences of its paragraph, and every sentence for the unanswerable questions of
half A's training articles, are negatives. It ranks the answer sentence first more often than the vectors'
cosine does (see the model card), but is no better at telling unanswerable questions apart. The weights are one
small .npz file, committed with a model card.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from qa.confidence import sigmoid
from qa.question import ASKS_CAUSE, ASKS_MANNER, ASKS_NUMBER, ASKS_PERSON, ASKS_SPEECH, ASKS_TIME
from qa.retrieval import tokens

_DIGIT = re.compile(r"\d")

# What a sentence states, weighed against what a question asks for (qa.question): the model weighs each pair (a "why"
# question and a sentence that gives a cause), which word overlap and the vectors miss when the answer shares few words
# with the question ("Why did the river flood the town?" – "… because of melting snow in the hills").
_ASKS = (ASKS_CAUSE, ASKS_MANNER, ASKS_SPEECH, ASKS_PERSON, ASKS_TIME, ASKS_NUMBER)
_STATES = [re.compile(p) for p in (
    r"(?i)\b(because|due to|owing to|as a result|result(ed|s)? (in|from)|caused|causing|led to|after|since|"
    r"so that|in order to|in response|thanks to|amid|following|reasons?)\b",
    r"(?i)\b(by|through|using|via|with)\b",
    r"[\"“”]|(?i:\b(said|says|told|according to|warned|added|argued|called)\b)",
    r"(?<=[a-z,] )[A-Z][a-z]",  # a name inside the sentence
    r"(?i)\b(1[5-9]\d\d|20\d\d|january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|ago)\b",
    r"\d")]


def _stem(word: str) -> str:
    return word[:5]  # "sanctions"/"sanction", "visited"/"visit": crude, but learned weights absorb the noise


def lexical(q: set[str], asks: list[bool], sentence: str) -> list[float]:
    """`q`: the question's stemmed words; `asks`: what it asks for (`_ASKS`); both read once per question."""
    s = {_stem(w) for w in tokens(sentence)}
    hit = len(q & s)
    states = [bool(p.search(sentence)) for p in _STATES]
    return [hit / max(len(q), 1), min(hit, 6) / 6, math.log1p(len(sentence.split())) / 4,
            float(bool(_DIGIT.search(sentence)))] + [float(a and b) for a in asks for b in states]


def features(q_vec: np.ndarray, s_vecs: np.ndarray, question: str, sentences: list[str]) -> np.ndarray:
    """One row per sentence: q*s (elementwise), cos(q, s), lexical overlap, length, has-a-number, and what the
    question asks for against what the sentence states."""
    prod = s_vecs * q_vec[None, :]
    cos = prod.sum(axis=1, keepdims=True)
    q, asks = {_stem(w) for w in tokens(question)}, [bool(p.search(question)) for p in _ASKS]
    lex = np.array([lexical(q, asks, s) for s in sentences], dtype="float32").reshape(len(sentences), -1)
    return np.hstack([prod, cos, lex]).astype("float32")


class SentenceSelector:
    """Cheap to construct; the weights load on first use."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._w: np.ndarray | None = None
        self._b = 0.0

    def warm_up(self) -> None:
        if self._w is None:
            from qa.models import ModelError

            try:
                data = np.load(self.path / "selector.npz")
                self._w, self._b = data["coef"].astype("float32"), float(data["intercept"])
            except (OSError, KeyError, ValueError) as e:
                raise ModelError(f"cannot load the sentence selector from {self.path} ({e}); "
                                 "retrain it with `qa train-selector`") from None

    def probabilities(self, q_vec: np.ndarray, s_vecs: np.ndarray, question: str,
                      sentences: list[str]) -> np.ndarray:
        self.warm_up()
        if not sentences:
            return np.zeros(0)
        z = features(q_vec.reshape(-1), s_vecs, question, sentences) @ self._w + self._b
        return sigmoid(z)
