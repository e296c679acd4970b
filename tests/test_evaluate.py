"""`qa eval`: format detection, the report, and the CI gate on the dev set's recorded F1."""
import json
from pathlib import Path

import pytest

from qa.evaluate import evaluate, load_question_set, write_report

DATA = Path(__file__).parent / "data"
BASELINE = json.loads((DATA / "baseline.json").read_text())


def test_dev_sets_are_well_formed():
    squad = load_question_set(DATA / "dev-squad2.json")
    turns = [t for c in squad.conversations for t in c]
    assert squad.format == "squad" and len(turns) >= 60
    assert sum(1 for t in turns if not t.golds) >= 10
    assert sum(1 for t in turns if t.id.endswith("-para")) >= 15
    for t in turns:
        for g in t.golds:
            assert g in t.context  # gold answers are verbatim spans
    coqa = load_question_set(DATA / "dev-coqa.json")
    assert coqa.format == "coqa" and len(coqa.conversations) >= 5
    later = [t.question.lower() for c in coqa.conversations for t in c[1:]]
    assert sum(any(w in q.split() for w in ("it", "there", "he", "they", "him", "them")) for q in later) >= 5
    # every conversation is about the same story: it is indexed once, not once per conversation
    assert len(coqa.documents) == 1
    assert {t.doc_id for c in coqa.conversations for t in c} == {coqa.documents[0].id}


def test_unknown_format_is_reported(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"data": [{"foo": 1}]}')
    with pytest.raises(ValueError, match="neither SQuAD"):
        load_question_set(bad)


@pytest.mark.slow
def test_dev_set_holds_its_recorded_f1(assistant, tmp_path):
    """CI gate: a pipeline change that lowers quality by more than 3 F1 points fails here."""
    result = evaluate(DATA / "dev-squad2.json", assistant=assistant, progress=False)
    for key in ("exact", "f1", "HasAns_f1", "NoAns_f1", "best_f1", "best_f1_thresh", "recall_at_3", "mrr",
                "latency_p50_s", "latency_p95_s"):
        assert key in result
    assert result["total"] == 80 and len(result["predictions"]) == 80
    assert result["f1"] >= BASELINE["squad_f1"] - 3, f"F1 {result['f1']:.1f} < recorded {BASELINE['squad_f1']}"
    page = write_report(result, tmp_path / "report")
    assert (tmp_path / "report" / "threshold.png").stat().st_size > 1000
    assert page.read_text().count("<tr class=") == 80


@pytest.mark.slow
def test_coqa_dev_set_holds_its_recorded_f1(assistant):
    result = evaluate(DATA / "dev-coqa.json", assistant=assistant, progress=False)
    assert result["format"] == "coqa" and result["total"] >= 25
    assert result["f1"] >= BASELINE["coqa_f1"] - 3, f"CoQA F1 {result['f1']:.1f} < recorded {BASELINE['coqa_f1']}"


@pytest.mark.slow
def test_compare_scores_readers_on_the_same_passages(tiny_model):
    """`qa compare`: one index, each reader on the same retrieved passages; the trained reader beats a random one."""
    from qa.evaluate import compare

    trained, random_reader = "minilm-squad-lora @ models/reader-minilm-squad-lora", str(tiny_model)
    results = compare(DATA / "dev-squad2.json", [trained, random_reader], limit=20, progress=False)
    assert list(results) == [trained, random_reader]
    assert all(r["same_passages"] and r["total"] == 20 for r in results.values())
    assert results[trained]["best_f1"] > results[random_reader]["best_f1"] + 10
