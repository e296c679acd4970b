"""Answer shapes beyond the short span: the answer sentence of a passage, and the document summary.

`SentencePicker` scores every sentence of the retrieved passages with the trained sentence models (the selector,
qa.selector, and optionally the sentence cross-encoder, qa.reranker with a sentence adapter) and returns the best
one, joined by the next sentence when that one is nearly as likely (an explanation often runs over two) and by the
one before when it opens with a pronoun. `summary_sources` turns a Summarizer's (document, sentence) pairs into
sources with their offsets.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from qa.answer import Source
from qa.chunking import is_prose, sentences
from qa.confidence import sigmoid
from qa.conversation import repeats

_OPENS_WITH_PRONOUN = re.compile(r"^[\"'“]?(It|This|That|These|Those|They|He|She|Its|Their|His|Her)\b")


@dataclass
class SentencePick:
    passage: int  # index into the passages given to `pick`
    start: int  # character offsets into that passage's text
    end: int
    score: float  # in [0, 1]: the selector's probability, the reader's support and the passage's (see `pick`)


class SentencePicker:
    def __init__(self, embedder, selector, scorer=None, max_words: int = 60, second_ratio: float = 0.6,
                 selector_weight: float = 1.0, scorer_weight: float = 1.0, reader_weight: float = 1.0,
                 passage_weight: float = 1.0, cached_sentences: int = 4096):
        self.embedder = embedder
        self.selector = selector
        self.scorer = scorer
        self.selector_weight = selector_weight
        self.scorer_weight = scorer_weight if scorer is not None else 0.0
        self.max_words = max_words
        self.second_ratio = second_ratio
        self.reader_weight = reader_weight
        self.passage_weight = passage_weight
        # the passages are the index's chunks, so their sentences come back question after question
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cached = cached_sentences
        self._lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Sentence vectors, each computed once while it stays among the most recent `cached_sentences`."""
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, self.embedder.encode(missing)))
        with self._lock:
            for t in texts:
                self._vectors[t] = known[t]
                self._vectors.move_to_end(t)
            while len(self._vectors) > self._cached:
                self._vectors.popitem(last=False)
        return np.stack([known[t] for t in texts])

    def warm_up(self) -> None:
        self.selector.warm_up()
        if self.scorer is not None:
            self.scorer.warm_up()

    def sentence_probabilities(self, question: str, texts: list[str]) -> np.ndarray:
        """P(the sentence holds the answer): the weighted mean of the selector's and the cross-encoder's."""
        total, weights = np.zeros(len(texts)), 0.0
        if self.selector_weight:
            total += self.selector_weight * self.selector.probabilities(
                self.embedder.encode_query(question)[0], self._encode(texts), question, texts)
            weights += self.selector_weight
        if self.scorer_weight:
            total += self.scorer_weight * sigmoid(self.scorer.scores(question, texts))
            weights += self.scorer_weight
        return total / max(weights, 1e-9)

    def pick(self, question: str, passages: list[str], candidates=(), passage_probs=None,
             said: str = "") -> SentencePick | None:
        """The best sentence: its probability (`sentence_probabilities`), plus `reader_weight` x the reader's confidence
        when the reader's best span of that passage lies in the sentence (the sentence models see the whole
        sentence, the reader the exact words: a lead sentence is like every question, the reader's span is not), plus
        `passage_weight` x the reranker's probability that its passage holds the answer (the reranker reads the
        sentence in its context). The score is that weighted mean, in [0, 1]. A sentence the last answer (`said`)
        already gave is not picked again."""
        spans = [(pi, s, e) for pi, text in enumerate(passages) for s, e in sentences(text)
                 if is_prose(text[s:e]) and not repeats(text[s:e], said)]
        if not spans:
            return None
        texts = [passages[pi][s:e] for pi, s, e in spans]
        probs = self.sentence_probabilities(question, texts)
        support = np.zeros(len(spans))
        for c in candidates:
            for i, (pi, s, e) in enumerate(spans):
                if pi == c.passage and s <= c.start < e:
                    support[i] = max(support[i], c.confidence)
        scores = probs + self.reader_weight * support
        weights = 1 + self.reader_weight
        if passage_probs is not None:
            scores = scores + self.passage_weight * np.array([passage_probs[pi] for pi, _, _ in spans])
            weights += self.passage_weight
        best = int(np.argmax(scores))
        pi, s, e = spans[best]
        prev = best - 1
        if (prev >= 0 and spans[prev][0] == pi and _OPENS_WITH_PRONOUN.match(passages[pi][s:e])
                and len(passages[pi][spans[prev][1]:e].split()) <= self.max_words):
            s = spans[prev][1]  # "It is due to report …" says nothing without the sentence it points back to
        nxt = best + 1
        if (nxt < len(spans) and spans[nxt][0] == pi and probs[nxt] >= self.second_ratio * probs[best]
                and len(passages[pi][s:spans[nxt][2]].split()) <= self.max_words):
            e = spans[nxt][2]
        return SentencePick(pi, s, e, float(scores[best] / weights))


def summary_sources(picked, retrieval_score: float) -> list[Source]:
    """One source per summary sentence, from its (document, sentence) pair; the whole sentence is the cited span."""
    return [Source(doc.id, doc.title, s.text, s.start, s.end, retrieval_score, s.start, s.end) for doc, s in picked]
