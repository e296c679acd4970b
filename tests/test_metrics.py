import pytest

from qa.metrics import best_threshold, normalize_answer, score, summarize


def test_normalisation_drops_case_punctuation_and_articles():
    assert normalize_answer("The  Saint-Sophia Cathedral!") == "saintsophia cathedral"
    assert normalize_answer("an apple, a pear") == "apple pear"


def test_em_and_f1_against_hand_computed_values():
    assert score(["$240 billion"], "240 billion") == (1, 1.0)  # "$" is punctuation
    em, f1 = score(["the growth in bilateral trade"], "bilateral trade")
    # gold tokens: growth in bilateral trade (4); pred: bilateral trade (2); P=1, R=.5
    assert em == 0 and f1 == pytest.approx(2 / 3)
    # vs "Xinhua": P=1/3, R=1 -> 0.5; vs "chinese state news agency xinhua": P=1, R=3/5 -> 0.75; max wins
    assert score(["Xinhua", "the Chinese state news agency Xinhua"], "news agency Xinhua")[1] == pytest.approx(0.75)
    assert score([], "") == (1, 1.0)  # unanswerable, abstained
    assert score([], "Harbin") == (0, 0.0)  # unanswerable, answered
    assert score(["Harbin"], "") == (0, 0.0)  # answerable, abstained


def test_summary_and_threshold_sweep():
    rows = [
        {"has_answer": True, "em": 1, "f1": 1.0, "confidence": 0.9, "f1_if_answered": 1.0},
        {"has_answer": True, "em": 0, "f1": 0.5, "confidence": 0.6, "f1_if_answered": 0.5},
        {"has_answer": False, "em": 0, "f1": 0.0, "confidence": 0.7, "f1_if_answered": 0.0},
        {"has_answer": False, "em": 1, "f1": 1.0, "confidence": 0.2, "f1_if_answered": 0.0},
    ]
    s = summarize(rows)
    assert s["total"] == 4 and s["exact"] == 50.0 and s["f1"] == pytest.approx(62.5)
    assert s["HasAns_f1"] == pytest.approx(75.0) and s["NoAns_exact"] == 50.0 and s["NoAns_total"] == 2
    best, thresh = best_threshold(rows)
    # answering only the 0.9 one: 1 + 0 + 1 + 1 = 3/4
    assert best == pytest.approx(75.0) and thresh == pytest.approx(0.9)


def test_best_threshold_respects_a_cap_on_refused_answerable():
    rows = [{"has_answer": h, "confidence": c, "f1_if_answered": f} for h, c, f in
            [(True, 0.9, 1.0), (False, 0.8, 0.0), (False, 0.7, 0.0), (True, 0.6, 1.0), (True, 0.5, 0.0)]]
    f1, t = best_threshold(rows)
    assert t == 0.9 and f1 == pytest.approx(60.0)  # answer only the top one: refuses 2 of 3 answerable
    f1, t = best_threshold(rows, max_refused=0.34)  # at most 1 of 3 refused: must admit down to 0.6
    assert t == 0.6 and f1 == pytest.approx(40.0)
