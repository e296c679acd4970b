import pytest

from qa.retrieval import Retriever


@pytest.mark.parametrize("question,needle", [
    ("How large was trade between Russia and China last year?", "$240 billion"),
    ("What is Harbin sometimes called?", "Little Moscow"),
    ("Which news agency reported that Putin thanked Xi?", "Xinhua"),
    ("Which broadcaster showed the leaders embracing?", "CCTV"),
])
def test_right_passage_in_top_three(assistant, question, needle):
    passages = Retriever(assistant.index, assistant.embedder).search(question, k=3)
    assert any(needle in p.chunk.text for p in passages)
    assert [p.rank for p in passages] == [0, 1, 2]
    assert passages[0].score >= passages[1].score >= passages[2].score
    assert all(-1.0 <= p.dense <= 1.0 for p in passages)
