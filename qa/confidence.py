"""One calibrated confidence from the reader's and the retriever's evidence.

confidence = sigmoid(w · [1, reader score, retrieval similarity, answer-type match]), with w fitted
by logistic regression (`qa calibrate`) so that it estimates P(the answer is right). A question that
asks for a number, a date or a sum of money but gets a span without one, or asks how many and gets a sum or a share,
is a strong sign of an invented answer: such a span gets confidence 0 whatever the rest says. SQuAD-style calibration
data has too few of them to weigh it (3 of half A's 659 fold-4 questions, 1 of them right), so the fitted weight alone
let "Close" answer "how far is Harbin from the Russian border" (README, "Measured").
"""
from __future__ import annotations

import re

import numpy as np

from qa.question import ASKS_NUMBER, ASKS_TIME

_PERCENT_Q = re.compile(r"\b(percent(age)?|per cent)\b", re.I)
_PERCENT = re.compile(r"%|\bper ?cent\b", re.I)
# "how much did it cost", "at what price": a sum of money, not "22-mile" or "6.4%" (not "how much more", a share, a time)
_MONEY_Q = re.compile(r"^\W*(how much\b(?!.*\b(percent|percentage|time|longer|shorter|more|less|of)\b).*\b(cost|costs|"
                      r"costing|paid|pay|pays|paying|spend|spent|worth|salary|wage|fee|fine|fined|earn|earned|earns|"
                      r"raised?|sold for|sell for|charged?)\b|(at )?what price\b)", re.I)
_MONEY = re.compile(r"[$€£¥₹¢]|\b(dollars?|euros?|pounds?|yen|yuan|renminbi|rubles?|roubles?|rupees?|cents?|pence|"
                    r"francs?|marks?|pesos?|usd|eur|gbp|thalers?|rials?|dinars?|shillings?)\b|\b(usd|eur)\d", re.I)
_COUNT_Q = re.compile(r"^\W*how many\b", re.I)
_SUM_OR_SHARE = re.compile(r"[$€£¥%]|\bper ?cent\b", re.I)  # SQuAD: 1.4% of how-many answers are ("86%")
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
                     r"fifty|hundred|thousand|million|billion|trillion|dozens?|half|several|few|many|single)\b", re.I)
_TIME = re.compile(r"\d|\b(january|february|march|april|may|june|july|august|september|october|november|december|"
                   r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|year|week|day|month|century|decade|"
                   r"yesterday|today|tomorrow|night|morning|evening|ago|since|until|after|before|during|when)", re.I)

# "who …?" is not answered by a count: 1 of SQuAD v1.1 train's 8,435 questions opening with who/whom/whose has a bare
# number for its answer ("260" for "Who holds the record for the most goals …?")
_PERSON_Q = re.compile(r"^\W*((and|so|but|then|ok|okay)\W+)?(who|whom|whose)\b", re.I)
_ONLY_NUMBER = re.compile(r"^\W*((\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                          r"forty|fifty|hundred|thousand|million|billion|dozens?|several|few|many)\W*)+$", re.I)

# "and in US dollars?", "in euros": the currency asked for must be the one given
_CURRENCY_ASKED = [(re.compile(p, re.I), re.compile(a, re.I)) for p, a in (
    (r"\bin (us|u\.s\.|american) dollars\b|\bin usd\b", r"\bUS\$|\bU\.S\. dollars|\bUS dollars|\bUSD\b"),
    (r"\bin dollars\b", r"\$|\bdollars?\b"),
    (r"\bin euros?\b", r"€|\beuros?\b|\bEUR\b"),
    (r"\bin (pounds|sterling)\b", r"£|\bpounds?\b|\bGBP\b"),
    (r"\bin (yen|yuan|renminbi|roubles|rubles|rupees)\b",
     r"[¥₽₹]|\b(yen|yuan|renminbi|roubles?|rubles?|rupees?)\b"))]

# a span of these words alone answers nothing ("when" for "When was the line last inspected?")
_EMPTY = frozenset("when where who whom what which why how it its this that these those he she they them his her "
                   "their there here then now so and or but not no yes the a an of in on at to for by with from as is "
                   "was are were be been said says".split())

DEFAULT_WEIGHTS = (0.0, 1.0, 0.0, 0.0)  # plain sigmoid of the reader score until calibrated


def type_match(question: str, answer: str) -> float:
    """0 when the answer is only function words, when the question asks for a number, a percentage, a sum of money
    (in a named currency) or a time and the answer has none, asks how many and the answer is a sum or a share, or
    asks who and the answer is only a number; else 1."""
    if all(w in _EMPTY for w in re.findall(r"\w+", answer.lower())):
        return 0.0
    if ASKS_NUMBER.search(question) and not _NUMBER.search(answer):
        return 0.0
    if _MONEY_Q.search(question) and not _MONEY.search(answer):
        return 0.0
    if _COUNT_Q.search(question) and _SUM_OR_SHARE.search(answer):
        return 0.0
    if _PERCENT_Q.search(question) and not _PERCENT.search(answer):
        return 0.0
    if ASKS_TIME.search(question) and not _TIME.search(answer):
        return 0.0
    if _PERSON_Q.search(question) and _ONLY_NUMBER.match(answer):
        return 0.0
    if any(asked.search(question) and not given.search(answer) for asked, given in _CURRENCY_ASKED):
        return 0.0
    return 1.0


def features(question: str, answer: str, reader_score: float, similarity: float) -> list[float]:
    return [1.0, reader_score, similarity, type_match(question, answer)]


def sigmoid(z):
    """1 / (1 + e^-z) of a number or an array, clipped so that no score overflows."""
    s = 1 / (1 + np.exp(-np.clip(z, -50.0, 50.0)))
    return float(s) if np.ndim(s) == 0 else s


def confidence(x: list[float], weights=DEFAULT_WEIGHTS) -> float:
    if len(x) > 3 and x[3] == 0:  # the wrong type of answer (`type_match`)
        return 0.0
    return sigmoid(float(np.dot(weights, x)))


def fit(xs: list[list[float]], ys: list[int], l2: float = 1e-2, steps: int = 50) -> list[float]:
    """Logistic regression by Newton's method (a handful of features, so this is exact and quick)."""
    X, y = np.asarray(xs, float), np.asarray(ys, float)
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        p = sigmoid(X @ w)
        grad = X.T @ (p - y) + l2 * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return [round(float(v), 4) for v in w]
