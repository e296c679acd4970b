import re

from qa.chunking import chunk, dateline_ends, is_prose, sentences
from qa.readers.extractive import token_lines


def test_chunks_keep_offsets_and_cover_every_sentence(article):
    chunks = chunk(article, max_words=80, overlap=1)
    assert len(chunks) > 5
    for c in chunks:
        assert article.text[c.start:c.end] == c.text
        assert c.doc_id == "article" and c.title == article.title
        assert len(c.text.split()) <= 80 or c.text.count(". ") == 0
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    for s, e in sentences(article.text):
        assert s in covered and e - 1 in covered


def test_consecutive_chunks_overlap(article):
    chunks = chunk(article, max_words=80, overlap=1)
    overlaps = [a.end > b.start for a, b in zip(chunks, chunks[1:])]
    assert sum(overlaps) >= len(chunks) // 2


def test_sentences_respect_quotes_and_abbreviations():
    text = 'He said "we are ready." Then Mr. Smith left the U.S. on Monday. Prices rose 2.5% in May.'
    spans = [text[s:e] for s, e in sentences(text)]
    assert spans == ['He said "we are ready."', "Then Mr. Smith left the U.S. on Monday.", "Prices rose 2.5% in May."]


def test_an_abbreviated_month_does_not_end_a_sentence():
    text = "HARLOW FALLS, Ohio, Oct. 7 (Wire) - Norvane opened a plant. It cost $14 billion."
    assert [text[s:e] for s, e in sentences(text)] == [
        "HARLOW FALLS, Ohio, Oct. 7 (Wire) -", "Norvane opened a plant.", "It cost $14 billion."]


def test_a_dateline_is_a_fragment_of_its_own():
    """So that no sentence answer, summary or span runs through "DORNBACH, Germany, April 14 (Wire) - "."""
    text = ("Levee bursts in Dornbach\n\nMOSCOW (Reuters) — Putin said the talks went well. He left.\n\n"
            "US - China talks resume on Monday. They said so.")
    pieces = [text[s:e] for s, e in sentences(text)]
    assert pieces == ["Levee bursts in Dornbach", "MOSCOW (Reuters) —", "Putin said the talks went well.", "He left.",
                      "US - China talks resume on Monday.", "They said so."]  # "US - " has no place or agency
    assert not is_prose("MOSCOW (Reuters) —") and is_prose("Putin said the talks went well.")
    assert [text[e:e + 5] for e in dateline_ends(text)] == ["Putin"]


def test_the_reader_never_spans_a_dateline():
    text = "DORNBACH, Germany, April 14 (Wire) - Floodwater burst through a levee."
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    lines = token_lines(text, words)
    cut = text.index("Floodwater")
    assert len(set(lines)) == 2 and all((lines[k] == lines[0]) == (s < cut) for k, (s, _) in enumerate(words))
