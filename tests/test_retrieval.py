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


def test_a_query_with_no_word_in_the_documents_is_ranked_by_meaning(assistant):
    """'chipmaker' is in neither document: BM25 scores every chunk 0, so only the vectors may rank them. Before, the
    tie was broken by index order and the first document indexed won every such query."""
    from qa.document import Document

    text = ("Norvane Semiconductor opened its $14 billion chip factory in Ohio on Tuesday. The plant will make "
            "processors for data centers and cars, and the company says demand for its semiconductors is rising.")
    other = assistant.with_documents([Document(id="chips", title="Norvane opens Ohio plant", text=text)])
    retriever = Retriever(other.index, other.embedder)
    assert not any("chipmaker" in c.text.lower() for c in other.index.chunks)
    assert retriever.search("chipmaker", k=1)[0].chunk.doc_id == "chips"
