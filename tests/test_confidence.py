"""Confidence: the answer-type check, and the logistic fit recovering a known rule."""
import numpy as np
import pytest

from qa.confidence import DEFAULT_WEIGHTS, confidence, features, fit, type_match


@pytest.mark.parametrize("question, answer, expected", [
    ("How many people live in Harbin?", "10 million", 1.0),
    ("How many people live in Harbin?", "Little Moscow", 0.0),
    ("By what percentage did trade grow?", "26%", 1.0),
    ("By what percentage did trade grow?", "$240 billion", 0.0),
    ("What percent of exports go to China?", "a third", 0.0),
    ("When did the invasion begin?", "February 2022", 1.0),
    ("When did the invasion begin?", "Kharkiv", 0.0),
    ("In what year was the treaty signed?", "the Kremlin", 0.0),
    ("Who showed the footage?", "CCTV", 1.0),
    ("How much did the pipeline cost to build?", "22-mile", 0.0),
    ("how much did the ohio chip plant cost", "$14 billion", 1.0),
    ("How much would fixing it have cost?", "5.6 million euros", 1.0),
    ("At what price did the shares close?", "6.4%", 0.0),
    ("How much water does the plant need a day?", "5 million gallons", 1.0),
    ("How much more did the sequel earn?", "4%", 1.0),  # a share of money: not a sum
    ("How many jobs would the second factory create?", "$11 billion", 0.0),
    ("How many people were injured?", "23", 1.0),
    ("how much is corvida paying for bluegum in US dollars?", "A$25 million", 0.0),  # the currency asked for
    ("how much is corvida paying for bluegum in US dollars?", "A$620 million (US$405 million)", 1.0),
    ("How large was trade last year in euros?", "$240 billion (€221 billion)", 1.0),
    ("How large was trade last year in euros?", "$240 billion", 0.0),
    ("And who were the people who died?", "two", 0.0),  # "who" is not answered by a count
    ("And who were the people who died?", "an 81-year-old woman and Lukas Brenner", 1.0),
    ("Who holds the record?", "Alan Shearer, 260 goals", 1.0),
    ("How many people died in the flood, and who were they?", "two", 1.0),
])
def test_type_match(question, answer, expected):
    assert type_match(question, answer) == expected


def test_default_weights_are_the_reader_probability():
    x = features("Who?", "CCTV", reader_score=0.0, similarity=0.5)
    assert confidence(x, DEFAULT_WEIGHTS) == pytest.approx(0.5)


def test_fit_recovers_a_known_rule():
    rng = np.random.default_rng(0)
    reader = rng.normal(0, 2, 2000)
    sim = rng.uniform(0, 1, 2000)
    truth = 1 / (1 + np.exp(-(-1 + 1.5 * reader + 2 * sim)))
    ys = (rng.uniform(size=2000) < truth).astype(int)
    xs = [[1.0, r, s, 1.0] for r, s in zip(reader, sim)]
    w = fit(xs, list(ys))
    assert w[1] == pytest.approx(1.5, abs=0.3) and w[2] == pytest.approx(2.0, abs=0.6)
    right = [confidence(x, w) for x, y in zip(xs, ys) if y]
    wrong = [confidence(x, w) for x, y in zip(xs, ys) if not y]
    assert np.mean(right) > np.mean(wrong) + 0.2


def test_an_answer_of_the_wrong_type_gets_no_confidence_whatever_the_weights():
    weights = [5.0, 1.0, 1.0, 0.5]  # even weights that trust everything else
    assert confidence(features("How far is Harbin from the border?", "Close", 3.0, 0.9), weights) == 0.0
    assert confidence(features("How far is Harbin from the border?", "500 km", 3.0, 0.9), weights) > 0.9


@pytest.mark.parametrize("answer", ["when", "it", "the", "That", ""])
def test_a_span_of_function_words_alone_answers_nothing(answer):
    assert type_match("When was the power line last inspected?", answer) == 0.0
    assert type_match("What did they find?", answer) == 0.0
