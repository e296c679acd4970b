"""Question understanding: chat shorthand, typos, and the kind of answer a question asks for."""
import json
from pathlib import Path

import pytest

from qa.question import (EXPLANATION, FACTOID, SUMMARY, YESNO, Speller, classify, expand_shorthand, statement,
                         summary_topic)

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("typed,meant", [
    ("whats the trade between russia n china??", "what is the trade between russia and china?"),
    ("who r u", "who are you"),
    ("pls tell me abt the sanctions thx", "tell me about the sanctions"),
    ("howd it go", "how did it go"),
])
def test_shorthand_is_expanded(typed, meant):
    assert expand_shorthand(typed) == meant


@pytest.mark.parametrize("question,kind", [
    ("Why did Putin go to China?", EXPLANATION),
    ("What happened in Kharkiv?", EXPLANATION),
    ("what did the west say about the peace plan", EXPLANATION),
    ("tl;dr", SUMMARY),
    ("Can you sum up the story?", SUMMARY),
    ("what is this article about", SUMMARY),
    ("what's this one about?", SUMMARY),
    ("what does the tram article say", SUMMARY),
    ("What does the article say about Harbin?", EXPLANATION),
    ("What did the minister ask the federal government for?", EXPLANATION),
    ("What are crews doing to protect the town?", EXPLANATION),
    ("Did Putin visit Beijing?", YESNO),
    ("is harbin near russia", YESNO),
    ("Did he fly or take the train?", FACTOID),
    ("How long did Putin stay in China?", FACTOID),
    ("Who is the mayor of Harbin?", FACTOID),
    ("What's the minister most worried about?", EXPLANATION),  # "what's" reads as "what is"
    ("What’s the mayor’s point about the budget?", EXPLANATION),
    ("What's the population of Harbin?", FACTOID),
    ("on what grounds?", EXPLANATION),
    ("what is the worry with the wind on tuesday", EXPLANATION),
])
def test_kind(question, kind):
    assert classify(question) == kind


def test_kind_accuracy_on_the_chat_dev_set():
    """Measured, not assumed: the rules must keep telling the dev set's kinds apart (92% when written)."""
    items = [i for i in json.loads((DATA / "dev-chat.json").read_text())["items"] if i["kind"] != "unanswerable"]
    right = sum(classify(expand_shorthand(i["question"])) == i["kind"] for i in items)
    assert right / len(items) >= 0.88, right / len(items)


def test_summary_topic():
    assert summary_topic("Summarize the chipmaker article.") == "chipmaker"
    assert summary_topic("could u give me the gist of the flood story pls") == "flood"
    assert summary_topic("what is this about?") == ""
    assert summary_topic("what's this one about?") == ""


def test_speller_fixes_words_of_the_documents_only(article):
    fix = Speller([article.text])
    assert fix(expand_shorthand("whats the capital of harbn provinse")) == "what is the capital of harbin province"
    assert fix("sanctons on electric cars") == "sanctions on electric cars"
    assert fix("Who is Zelensky?") == "Who is Zelensky?"  # a name not in the documents stays as typed
    assert fix("the weather in paris") == "the weather in paris"  # English words are never changed


def test_a_yes_no_question_is_read_for_what_it_asserts():
    assert statement("Is the fire contained yet?") == "the fire contained yet?"
    assert statement("so did putin visit beijing") == "putin visit beijing"
    assert statement("What did Putin sign?") == "What did Putin sign?"  # not a yes/no question: unchanged
