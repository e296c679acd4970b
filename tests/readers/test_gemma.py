"""The grounded span-scoring reader on gemma-3-270m (converted once from the packaged GGUF)."""
import pytest

from qa.models import gemma_dir
from qa.readers.gemma import GemmaSpanReader

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reader():
    r = GemmaSpanReader(str(gemma_dir()))
    r.warm_up()
    return r


def _passage(article, needle):
    from qa.chunking import chunk

    return next(c.text for c in chunk(article) if needle in c.text)


def test_answers_are_verbatim_spans(reader, article):
    p = _passage(article, "$240 billion")
    cands = reader.read("How large was trade between Russia and China last year?", [p])
    best = cands[0]
    assert best.text == "$240 billion"
    assert p[best.start:best.end] == best.text


def test_unanswerable_gets_lower_confidence(reader, article):
    p = _passage(article, "Heilongjiang")
    known = reader.read("Harbin is the capital of which province?", [p])[0]
    unknown = reader.read("What is the population of Harbin?", [p])[0]
    assert known.text == "Heilongjiang"
    assert unknown.confidence < known.confidence / 5
