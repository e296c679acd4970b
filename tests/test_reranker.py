"""The passage reranker (qa.reranker): the shipped cross-encoder on the real article and in the pipeline."""
import dataclasses
import json
from pathlib import Path

import pytest

from qa.settings import ROOT

pytestmark = pytest.mark.slow
SQUAD = ROOT.parent / "shared" / "squad" / "train-v1.1.json"

# (question, words only the passage that answers it has)
HELD = [
    ("Which city did Putin visit on the second day of his trip to China?", "Harbin"),
    ("How large was trade between Russia and China last year?", "$240 billion"),
    ("Who did Putin blame for the fighting in Kharkiv?", "Kharkiv"),
]


@pytest.mark.parametrize("question,marker", HELD)
def test_the_answer_passage_comes_first_among_the_fused_ones(assistant, question, marker):
    fused = assistant._retriever.search(question, 12)
    reranked = assistant.reranker.rerank(question, fused, 4)
    assert len(reranked) == 4 and [p.rank for p in reranked] == [0, 1, 2, 3]
    scores = [p.rerank for p in reranked]
    assert scores == sorted(scores, reverse=True)
    assert marker in reranked[0].chunk.text, reranked[0].chunk.text
    assert {p.chunk.id for p in reranked} <= {p.chunk.id for p in fused}


def test_the_quick_rerankers_rank_as_the_float_one_does(assistant):
    """The shipped settings run it through ONNX Runtime with int8 weights or, where the CPU has AMX, on torch under
    bfloat16 autocast; either ranking must be the float model's."""
    from qa.models import native_amx
    from qa.reranker import Reranker

    path = assistant.reranker.path
    assert assistant.settings.reranker_int8 and assistant.settings.reranker_bf16
    assert assistant.reranker.bf16 == native_amx() and assistant.reranker.int8 != native_amx()
    int8, exact = Reranker(path, int8=True), Reranker(path)
    int8.warm_up()
    assert int8._int8 is not None  # the export worked
    quick = [int8] + ([Reranker(path, bf16=True)] if native_amx() else [])
    for question, marker in HELD:
        texts = [p.chunk.text for p in assistant._retriever.search(question, 8)]
        best = exact.scores(question, texts)
        assert marker in texts[int(best.argmax())]
        for model in quick:
            scores = model.scores(question, texts)
            assert marker in texts[int(scores.argmax())] and abs(scores - best).max() < 1.0, (scores, best)


def test_an_off_topic_question_scores_below_an_answered_one(assistant):
    texts = [c.text for c in assistant.index.chunks]
    on = assistant.reranker.scores("Which city did Putin visit on the second day of his trip to China?", texts)
    off = assistant.reranker.scores("What is the boiling point of liquid nitrogen?", texts)
    assert on.max() > off.max() + 2


def test_the_answer_reads_the_reranked_passages(assistant):
    question = "Which city did Putin visit on the second day of his trip to China?"
    ans = assistant.ask(question)
    assert ans.text == "Harbin" and ans.timings["rerank_s"] > 0
    read = assistant.retrieve(question)
    assert {s.text for s in ans.sources} == {p.chunk.text for p in read}
    assert all(p.rerank is not None for p in read) and len(read) == assistant.settings.top_k


def test_rerank_k_zero_turns_it_off(assistant):
    plain = assistant.with_index(assistant.index, dataclasses.replace(assistant.settings, rerank_k=0))
    assert plain.reranker is None
    assert plain.ask("Which city did Putin visit on the second day of his trip to China?").text == "Harbin"
    assert all(p.rerank is None for p in plain.retrieve("Harbin trade fair"))


def test_the_passage_probability_joins_a_sentence_answer(assistant):
    """The same sentence scores higher when its passage is the one the reranker believes holds the answer."""
    question = "Why did Putin go to Harbin?"
    passage = [p.chunk.text for p in assistant.retrieve(question)][:1]
    high = assistant.picker.pick(question, passage, (), [0.95])
    low = assistant.picker.pick(question, passage, (), [0.05])
    assert (high.start, high.end) == (low.start, low.end) and high.score > low.score + 0.2
    assert 0.0 <= low.score <= high.score <= 1.0


def test_the_model_card_and_script_hold_the_record():
    folder = ROOT / "models" / "reranker-minilm-squad-lora"
    state = json.loads((folder / "training_state.json").read_text())
    assert state["step"] == state["total"] and state["metrics"]["p_at_1"] > state["metrics"]["p_at_1_bm25"]
    import shlex

    from typer.main import get_command

    from qa.cli import app

    script = (ROOT / "scripts" / "train-reranker.sh").read_text().replace("\\\n", " ")
    line = next(x for x in script.splitlines() if x.startswith("qa train-reranker "))
    run = get_command(app).commands["train-reranker"].make_context("train-reranker", shlex.split(line)[2:]).params
    c = state["config"]
    assert {k: run[k] for k in ("seed", "lr", "v11_questions", "half_a_folds", "casual")} == \
        {k: c[k] for k in ("seed", "lr", "v11_questions", "half_a_folds", "casual")}
    assert "CC BY-SA 4.0" in (folder / "README.md").read_text()


@pytest.mark.skipif(not SQUAD.exists(), reason="../shared/squad is not beside the checkout")
def test_smoke_training_resumes_and_exports(tmp_path):
    from qa.reranker import Reranker
    from qa.reranker_train import RerankConfig, train

    cfg = RerankConfig(out=str(tmp_path / "run"), export=str(tmp_path / "export"), v11_questions=10,
                       max_examples=48, dev_questions=8, threads=2, batch_size=8)
    first = train(dataclasses.replace(cfg, max_steps=2))
    assert first["step"] == 2
    second = train(cfg)
    assert second["step"] == second["total"] == 6 and second["p_at_1_bm25"] >= 0
    state = json.loads((tmp_path / "export" / "training_state.json").read_text())
    assert state["step"] == 6 and state["pairs"] == 48
    scores = Reranker(tmp_path / "export").scores("Who wrote it?", ["It was written by Ann.", "Rain fell."])
    assert scores.shape == (2,)


def test_training_pairs_label_the_chunk_that_holds_the_answer():
    import random

    from qa.reranker_train import RerankConfig, article_pairs

    para = ("Harbin is a city in the north-east of China. It has many churches. " * 6).strip()
    article = {"title": "T", "paragraphs": [
        {"context": para, "qas": []},
        {"context": "The trade fair opened in May. It sold machines and grain to visitors from Russia.",
         "qas": [{"id": "1", "question": "When did the trade fair open?", "is_impossible": False,
                  "answers": [{"text": "May", "answer_start": 26}]},
                 {"id": "2", "question": "Who closed the trade fair?", "is_impossible": True, "answers": []}]}]}
    pairs = article_pairs(article, random.Random(0), RerankConfig(), casual_rate=0.0)
    answerable = [p for p in pairs if p["q"].startswith("When")]
    assert [p["label"] for p in answerable][0] == 1 and "opened in May" in answerable[0]["text"]
    assert all(p["label"] == 0 and "May" not in p["text"] for p in answerable[1:])
    assert {p["label"] for p in pairs if p["q"].startswith("Who")} == {0}


def test_sentence_pairs_label_the_sentence_that_holds_the_answer():
    import random

    from qa.reranker_train import RerankConfig, sentence_pairs

    article = {"title": "T", "paragraphs": [
        {"context": "Harbin is a city in the north-east of China. It has many old churches.", "qas": []},
        {"context": "The trade fair opened in May after a long delay. It sold machines and grain to visitors. "
                    "Prices of grain rose sharply that year.",
         "qas": [{"id": "1", "question": "When did the trade fair open?", "is_impossible": False,
                  "answers": [{"text": "May", "answer_start": 25}]},
                 {"id": "2", "question": "Who closed the trade fair?", "is_impossible": True, "answers": []}]}]}
    pairs = sentence_pairs(article, random.Random(0), RerankConfig(unit="sentence"), casual_rate=0.0)
    answerable = [p for p in pairs if p["q"].startswith("When")]
    assert answerable[0] == {"q": "When did the trade fair open?", "label": 1,
                             "text": "The trade fair opened in May after a long delay."}
    negatives = answerable[1:]
    assert len(negatives) == 3 and all(p["label"] == 0 and "May" not in p["text"] for p in negatives)
    assert any("Harbin" in p["text"] or "churches" in p["text"] for p in negatives)  # one from another paragraph
    assert [p["label"] for p in pairs if p["q"].startswith("Who")] == [0, 0]


def test_the_sentence_cross_encoder_finds_the_answer_sentence_and_joins_the_picker(assistant, tmp_path):
    """The optional `sentence_scorer` (models.txt): the answer sentence scores highest among the passage's, and a
    picker that has it weighs its probability in."""
    from qa.assistant import Assistant
    from qa.chunking import sentences
    from qa.reranker import Reranker
    from qa.settings import Settings

    folder = ROOT / "models" / "sentence-minilm-squad-lora"
    passage = next(p for p in assistant.retrieve("How large was trade between Russia and China last year?")
                   if "$240 billion" in p.chunk.text).chunk.text
    texts = [passage[s:e] for s, e in sentences(passage)]
    scores = Reranker(folder).scores("How large was trade between Russia and China last year?", texts)
    assert "$240 billion" in texts[int(scores.argmax())]
    models = tmp_path / "models.txt"
    models.write_text((ROOT / "models.txt").read_text() + f"\nsentence_scorer = sentence-minilm @ {folder}\n")
    settings = Settings.load(models_file=str(models), index_dir=assistant.settings.index_dir)
    with_scorer = Assistant.load(settings=settings)
    assert with_scorer.picker.scorer is not None and assistant.picker.scorer is None
    q = "Why has Russia become dependent on China?"
    mine = with_scorer.picker.sentence_probabilities(q, texts)
    plain = assistant.picker.sentence_probabilities(q, texts)
    assert mine.shape == plain.shape and not (abs(mine - plain) < 1e-6).all()
    state = json.loads((folder / "training_state.json").read_text())
    c = state["config"]
    assert c["unit"] == "sentence" and state["metrics"]["p_at_1"] > state["metrics"]["p_at_1_bm25"]
    script = (ROOT / "scripts" / "train-reranker.sh").read_text().replace("\\\n", " ")
    line = next(x for x in script.splitlines() if "--unit sentence" in x)
    import shlex

    from typer.main import get_command

    from qa.cli import app

    run = get_command(app).commands["train-reranker"].make_context("train-reranker", shlex.split(line)[2:]).params
    keys = ("unit", "init", "seed", "lr", "v11_questions", "half_a_folds", "casual")
    assert {k: run[k] for k in keys} == {k: c[k] for k in keys}
    assert "CC BY-SA 4.0" in (folder / "README.md").read_text()


def test_fused_with_retrieval_order_the_reranker_keeps_what_retrieval_ranked_first(assistant):
    """Ordered by the reranker alone, the one passage that answers could drop out of the four the reader reads
    (README, "Reranker"); fused with retrieval's order (`rerank_fusion`), it stays and the reader finds the answer
    in it."""
    from qa.document import load as load_document

    chat = ROOT / "tests" / "data" / "chat" / "docs"
    docs = [load_document(chat / f"{d}.txt", doc_id=d) for d in ("flood", "chipmaker")]
    a = assistant.with_documents(docs)  # the chat dev set's three documents
    question = "How many workers has Norvane hired at Fab 9 so far?"
    fused = a._retriever.search(question, a.settings.rerank_k)
    assert "hired 1,100" in fused[0].chunk.text
    alone = a.reranker.rerank(question, fused, a.settings.top_k)
    assert not any("hired 1,100" in p.chunk.text for p in alone)
    without = a.with_index(a.index, dataclasses.replace(a.settings, rerank_fusion=0)).ask(question)
    assert without.abstained and "1,100" not in without.candidate
    kept = a.reranker.rerank(question, fused, a.settings.top_k, a.settings.rerank_fusion)
    assert any("hired 1,100" in p.chunk.text for p in kept)
    # the reader finds it there; whether it is sure enough to say it is the reader's calibration (phase 4 is not)
    assert a.ask(question).candidate == "1,100"
