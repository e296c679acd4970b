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
from qa.retrieval import tokens

_DIGIT = re.compile(r"\d")


def _stem(word: str) -> str:
    return word[:5]  # "sanctions"/"sanction", "visited"/"visit": crude, but learned weights absorb the noise


def lexical(question: str, sentence: str) -> list[float]:
    q = {_stem(w) for w in tokens(question)}
    s = {_stem(w) for w in tokens(sentence)}
    hit = len(q & s)
    return [hit / max(len(q), 1), min(hit, 6) / 6, math.log1p(len(sentence.split())) / 4,
            float(bool(_DIGIT.search(sentence)))]


def features(q_vec: np.ndarray, s_vecs: np.ndarray, question: str, sentences: list[str]) -> np.ndarray:
    """One row per sentence: q*s (elementwise), cos(q, s), lexical overlap, length, has-a-number."""
    prod = s_vecs * q_vec[None, :]
    cos = prod.sum(axis=1, keepdims=True)
    lex = np.array([lexical(question, s) for s in sentences], dtype="float32").reshape(len(sentences), -1)
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
