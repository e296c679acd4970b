"""Extractive summary of one document: its lead sentence and its most central ones, in document order; and an
overview of several, for a request that names none of them.

Centrality is the cosine of a sentence's vector to the mean of all the document's sentence vectors;
sentences are taken by maximal marginal relevance (central, but unlike those already taken) until the
word budget is spent. Headings, captions, fragments (no closing punctuation, under 8 words) and questions
(a teaser or a link to another story, not a statement of this one) are skipped; a wire story's dateline is a fragment
of its own (qa.chunking), so it is left out of its lead.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from qa.chunking import is_prose, sentences
from qa.document import Document


@dataclass
class Sentence:
    start: int  # character offsets into the document's text
    end: int
    text: str
    centrality: float


class Summarizer:
    """Cheap to construct; sentence vectors are computed once per document text and kept."""

    def __init__(self, embedder, max_words: int = 120, diversity: float = 0.3):
        self.embedder = embedder
        self.max_words = max_words
        self.diversity = diversity
        self._cache: dict[str, tuple[list[tuple[int, int]], np.ndarray]] = {}
        self._lock = threading.Lock()

    def _vectors(self, doc: Document):
        with self._lock:
            hit = self._cache.get(doc.sha256)
        if hit is None:
            spans = [(s, e) for s, e in sentences(doc.text)
                     if is_prose(doc.text[s:e], 8) and not doc.text[s:e].endswith("?")]
            vecs = self.embedder.encode([doc.text[s:e] for s, e in spans]) if spans else np.zeros((0, 1), "float32")
            hit = (spans, vecs)
            with self._lock:
                if len(self._cache) > 256:
                    self._cache.clear()
                self._cache[doc.sha256] = hit
        return hit

    def summarize(self, doc: Document, max_words: int | None = None) -> list[Sentence]:
        budget = max_words or self.max_words
        spans, vecs = self._vectors(doc)
        if not spans:
            return []
        centroid = vecs.mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        central = vecs @ centroid
        chosen = [0]  # the lead: a news story's first sentence states what happened
        words = len(doc.text[slice(*spans[0])].split())
        while len(chosen) < len(spans):
            redundancy = (vecs @ vecs[chosen].T).max(axis=1)
            mmr = (1 - self.diversity) * central - self.diversity * redundancy
            mmr[chosen] = -np.inf
            fits = [i for i in np.argsort(-mmr) if np.isfinite(mmr[i])
                    and words + len(doc.text[slice(*spans[i])].split()) <= budget]
            if not fits:
                break
            chosen.append(int(fits[0]))
            words += len(doc.text[slice(*spans[fits[0]])].split())
        return [Sentence(spans[i][0], spans[i][1], doc.text[slice(*spans[i])], float(central[i]))
                for i in sorted(chosen)]

    def overview(self, docs: list[Document]) -> list[tuple[Document, Sentence]]:
        """Every document's lead, then as much of each summary as the shared word budget allows: "tl;dr" with
        several documents and nothing to say which one is meant."""
        parts = [self.summarize(doc, self.max_words // max(len(docs), 1)) for doc in docs]

        def words(part: list[Sentence]) -> int:
            return sum(len(s.text.split()) for s in part)

        while sum(map(words, parts)) > self.max_words:
            longest = max(range(len(parts)), key=lambda i: (len(parts[i]) > 1, words(parts[i])))
            if len(parts[longest]) <= 1:
                parts.pop()  # even the leads do not fit: the documents listed last go
            else:
                parts[longest].pop()
        return [(doc, s) for doc, part in zip(docs, parts) for s in part]
