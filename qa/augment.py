"""Training-data helpers shared by the trainers: chat-style rewrites, and half A's split into folds by article."""
from __future__ import annotations

import hashlib
import random

FOLDS = 5
_FUNCTION = {"the", "a", "an", "of", "did", "does", "do", "is", "was", "are", "were", "to", "in", "for", "on"}
_SHORT = {"what is": "whats", "what's": "whats", " and ": " n ", " you ": " u ", "about": "abt", "people": "ppl",
          "because": "bc", "please": "pls"}


def casual(question: str, rng: random.Random) -> str:
    """A chat-style variant: lower case, shorthand, dropped function words, one typo, odd punctuation."""
    q = question.lower().rstrip("?. ")
    for long, short in _SHORT.items():
        if long in f" {q} " and rng.random() < 0.6:
            q = f" {q} ".replace(long, short).strip()
    words = [w for w in q.split() if not (w in _FUNCTION and rng.random() < 0.4)] or q.split()
    long_words = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
    if long_words and rng.random() < 0.5:
        i = rng.choice(long_words)
        w = words[i]
        j = rng.randrange(1, len(w) - 1)
        words[i] = w[:j] + w[j + 1:] if rng.random() < 0.5 else w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words) + rng.choice(["", "", "?", "??"])


def fold_of(title: str) -> int:
    """Half A's articles in FOLDS folds, fixed by the title's hash: train on some, report on the others."""
    return int(hashlib.sha256(title.encode()).hexdigest(), 16) % FOLDS


def parse_folds(text: str) -> set[int]:
    """'0,1,2,3' → {0, 1, 2, 3}; '' → no folds."""
    return {int(f) for f in text.replace(" ", "").split(",") if f}
