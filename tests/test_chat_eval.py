"""`qa eval` on chat sets: the dev set's shape, CSV/JSONL question sets, and the CI floor on chat success."""
import json
from collections import Counter
from pathlib import Path

import pytest

from qa.chat_eval import ChatItem, evaluate_chat, is_chat_file, judge, load_chat_set, write_chat_report
from qa.metrics import normalize_answer

DATA = Path(__file__).parent / "data"
BASELINE = json.loads((DATA / "baseline.json").read_text())


def test_chat_dev_set_is_well_formed():
    chat = load_chat_set(DATA / "dev-chat.json")
    items = chat.items
    assert len(items) >= 150 and len(chat.documents) >= 3
    kinds = Counter(i.kind for i in items)
    assert set(kinds) == {"factoid", "explanation", "summary", "yesno", "unanswerable"} and kinds["unanswerable"] >= 25
    raw = json.loads((DATA / "dev-chat.json").read_text())["items"]
    assert len({r["chain"] for r in raw if r.get("chain")}) >= 15
    assert sum("casual" in i.tags for i in items) >= 50
    _phrases_are_in_their_documents(chat)


def _phrases_are_in_their_documents(chat):
    texts = {d.id: normalize_answer(d.text) for d in chat.documents}
    for i in chat.items:
        assert all(normalize_answer(a) in texts[i.doc] for a in i.answers), i.id  # key phrases are in the text
        assert ("followup" in i.tags) == bool(i.history), i.id


@pytest.mark.parametrize("name,docs", [("holdout-chat.json", {"strike", "tram"}),
                                       ("holdout-chat-2.json", {"ward", "heat", "trial"}),
                                       ("holdout-chat-3.json", {"mine", "ferry", "library"}),
                                       ("dev-chat-2.json", {"wildfire", "airline"})])
def test_the_other_chat_sets_are_well_formed(name, docs):
    """Each written by a helper who never saw the code, on documents of its own (README, "Chat question sets")."""
    chat = load_chat_set(DATA / name)
    assert len(chat.items) >= 80 and {d.id for d in chat.documents} == docs
    assert set(Counter(i.kind for i in chat.items)) == {"factoid", "explanation", "summary", "yesno", "unanswerable"}
    _phrases_are_in_their_documents(chat)


def test_judge():
    item = ChatItem("1", "How big was trade?", ["$240 billion"], 10)
    assert judge(item, "$240 billion", False) == "success"
    assert judge(item, "240 billion dollars", False) == "success"
    assert judge(item, "It grew. " * 6 + "$240 billion", False) == "wrong"  # over the length cap
    assert judge(item, "The article does not say.", True) == "refused"
    assert judge(ChatItem("2", "Population?", [], 25), "10 million", False) == "wrong"
    assert judge(ChatItem("2", "Population?", [], 25), "The article does not say.", True) == "success"


def test_spreadsheet_formats_load(tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text('question,answer,answer_2,history\n'
                   '"How large was trade between Russia and China last year?",$240 billion,€221 billion,\n'
                   'What is the population of Harbin?,,,\n'
                   '"And in euros?",€221 billion,,"[[""How large was trade?"", ""$240 billion""]]"\n', encoding="utf-8")
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text(json.dumps({"question": "Who showed footage?", "expected": "CCTV", "history": "Hi\nThere"}) + "\n")
    assert is_chat_file(csv) and is_chat_file(jsonl) and not is_chat_file(DATA / "dev-squad2.json")
    a, b, c = load_chat_set(csv).items
    assert a.answers == ["$240 billion", "€221 billion"] and a.history == []
    assert b.answers == [] and b.kind == "unanswerable"
    assert c.history == [("How large was trade?", "$240 billion")]
    (d,) = load_chat_set(jsonl).items
    assert d.answers == ["CCTV"] and d.history == [("Hi", ""), ("There", "")]
    bad = tmp_path / "bad.csv"
    bad.write_text("q,a\nx,y\n")
    with pytest.raises(ValueError, match="'question' column"):
        load_chat_set(bad)


@pytest.mark.slow
def test_csv_is_scored_against_the_indexed_documents(assistant, tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text("question,answer\nwhich broadcaster showed the two leaders,CCTV\n"
                   "Who is the mayor of Harbin?,\n")
    result = evaluate_chat(csv, assistant=assistant)
    assert [r["outcome"] for r in result["predictions"]] == ["success", "success"]
    assert result["success"] == 1.0 and result["by_kind"]["unanswerable"]["n"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("name,key", [("dev-chat.json", "chat_success"), ("dev-chat-2.json", "chat2_success"),
                                      ("holdout-chat.json", "holdout_chat_success"),
                                      ("holdout-chat-2.json", "holdout_chat2_success"),
                                      ("holdout-chat-3.json", "holdout_chat3_success")])
def test_chat_sets_hold_their_recorded_success(tmp_path, name, key):
    """CI gate on the chat sets: success may not fall more than 3 points below the recorded figure."""
    result = evaluate_chat(DATA / name)
    assert set(result["by_kind"]) >= {"factoid", "explanation", "summary", "yesno"}
    success = 100 * result["success"]
    assert success >= BASELINE[key] - 3, f"{name}: success {success:.1f} < recorded {BASELINE[key]}"
    page = write_chat_report(result, tmp_path / "report").read_text()
    assert page.count("<tr class=") == result["total"] and "kind" in page
