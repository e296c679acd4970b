from qa.chunking import chunk, sentences


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
        "HARLOW FALLS, Ohio, Oct. 7 (Wire) - Norvane opened a plant.", "It cost $14 billion."]
