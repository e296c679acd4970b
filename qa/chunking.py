"""Split a cleaned document into sentence-aware, overlapping chunks that keep their offsets."""
from __future__ import annotations

import re
from dataclasses import dataclass

from qa.document import Document

# A sentence ends at . ! ? (maybe closed by a quote or bracket) followed by space and a capital,
# a digit, a quote or a bracket, or at a paragraph break.
_END = re.compile(r"""(?<=[.!?])["'”’)\]]?\s+(?=["'“‘(\[]?[A-Z0-9])|\n\n""")
_ABBREV = re.compile(r"\b(Mr|Mrs|Ms|Dr|Prof|St|Gen|Col|Lt|Sen|Rep|Jr|Sr|vs|etc|No|U\.S|U\.K|e\.g|i\.e|approx|Inc|Ltd|Co|"
                     r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.$", re.I)  # "Oct. 7" is one date


@dataclass
class Chunk:
    """A passage of a document; `start`/`end` are character offsets into the document text."""

    id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int

    @property
    def head(self) -> str:
        """The line that tells where the passage comes from: its document's title, unless the text holds it. A
        passage cut from the middle of a story loses its subject ("Fab 9 will need …" is about Norvane's Ohio
        plant), so the index's vectors and the reader see the passage under it."""
        return "" if self.title in self.text else f"{self.title}\n"

    @property
    def headed(self) -> str:
        """The text as it is embedded and read: under its head."""
        return self.head + self.text


# a wire story's dateline ("HARLOW FALLS, Ohio, Oct. 7 (Wire) - ", "MOSCOW (Reuters) — ") at a paragraph's start: a
# fragment of its own, not the start of the lead sentence, so that neither a span answer ("April 14 (Wire) -
# Floodwater …" for "when did the levee break") nor a sentence answer or summary runs through it
_DATELINE = re.compile(r"""(?m)^[ \t]*[A-Z][A-Z.'-]+(?: [A-Z][A-Z.'-]+)*(?:, [^()\n]{1,40}?)?(?: \([A-Za-z. ]{2,30}\))? ?"""
                       r"""[-–—]{1,2} (?=[A-Z0-9"“‘])""")


def dateline_ends(text: str) -> list[int]:
    """Where each dateline of `text` ends: the offset of the first character after it."""
    return [m.end() for m in _DATELINE.finditer(text) if "," in m.group(0) or "(" in m.group(0)]


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, offsets into `text`; a dateline is a piece of its own."""
    bounds = [0, *dateline_ends(text), len(text)]
    return [(s + a, e + a) for a, b in zip(bounds, bounds[1:]) for s, e in _sentences(text[a:b])]


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _END.finditer(text):
        end = m.start()
        if _ABBREV.search(text[start:end + 1].rstrip()) and m.group(0) != "\n\n":
            continue
        # keep a closing quote with its sentence
        seg_end = end + len(m.group(0)) - len(m.group(0).lstrip("\"'”’)]"))
        if text[start:seg_end].strip():
            spans.append((start, seg_end))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return [(s + len(text[s:e]) - len(text[s:e].lstrip()), s + len(text[s:e].rstrip())) for s, e in spans]


_CLOSED = re.compile(r"""[.!?]["'”’)\]]?$""")


def is_prose(text: str, min_words: int = 5) -> bool:
    """A full sentence, not a heading, caption, dateline or fragment: one line, closed by . ! or ?"""
    return len(text.split()) >= min_words and "\n" not in text and bool(_CLOSED.search(text))


def chunk(doc: Document, max_words: int = 80, overlap: int = 1) -> list[Chunk]:
    """Greedy sentence windows of at most `max_words` words; consecutive chunks share `overlap` sentences."""
    sents = sentences(doc.text)
    words = [len(doc.text[s:e].split()) for s, e in sents]
    chunks, i = [], 0
    while i < len(sents):
        j, n = i, 0
        while j < len(sents) and (j == i or n + words[j] <= max_words):
            n += words[j]
            j += 1
        s, e = sents[i][0], sents[j - 1][1]
        if chunks and chunks[-1].end == e:  # nothing new beyond the previous chunk
            i = j
            continue
        chunks.append(Chunk(f"{doc.id}#{len(chunks)}", doc.id, doc.title, doc.text[s:e], s, e))
        if j >= len(sents):
            break
        i = max(i + 1, j - overlap)
    return chunks
