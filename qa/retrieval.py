"""Find the passages for a question: dense (FAISS) and BM25 rankings fused by reciprocal rank."""
from __future__ import annotations

import re
from dataclasses import dataclass

from qa.chunking import Chunk
from qa.index import Embedder, Index

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    "a an the of in on at to for from by with and or but is are was were be been being do does did what which who whom "
    "whose when where why how that this these those it its as into than then there their they he she his her him i you "
    "we our us me my your about after before during said says say".split())


def tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


@dataclass
class Passage:
    """A retrieved chunk with the evidence for it."""

    chunk: Chunk
    score: float  # fused reciprocal-rank score
    dense: float  # cosine similarity to the question
    bm25: float
    rank: int
    rerank: float | None = None  # the cross-encoder's logit, when a reranker scored the passages


def reciprocal_rank_fusion(rankings: list[list[int]], k: int) -> dict[int, float]:
    """Each item's sum, over the rankings (item ids, best first), of 1 / (k + its rank), rank counted from 1; a
    ranking that leaves an item out adds nothing for it."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking, 1):
            fused[i] = fused.get(i, 0.0) + 1 / (k + rank)
    return fused


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, rrf_k: int = 60):
        from rank_bm25 import BM25Okapi

        self.index = index
        self.embedder = embedder
        self.rrf_k = rrf_k
        corpus = [tokens(c.text) or ["∅"] for c in index.chunks]
        self.bm25 = BM25Okapi(corpus)

    def search(self, query: str, k: int = 4) -> list[Passage]:
        n = len(self.index.chunks)
        qv = self.embedder.encode_query(query)
        dense, order = self.index.faiss.search(qv, n)
        dense_score = {int(i): float(s) for i, s in zip(order[0], dense[0]) if i >= 0}
        bm = self.bm25.get_scores(tokens(query) or ["∅"])
        # only chunks sharing a word with the query are ranked by BM25: the rest tie at 0, and ranking them by their
        # place in the index would favour the first document indexed
        bm_order = sorted((i for i in range(n) if bm[i] > 0), key=lambda i: -bm[i])
        fused = reciprocal_rank_fusion([[int(i) for i in order[0] if i >= 0], bm_order], self.rrf_k)
        best = sorted(range(n), key=lambda i: -fused[i])[:k]
        return [Passage(self.index.chunks[i], fused[i], dense_score[i], float(bm[i]), r) for r, i in enumerate(best)]
