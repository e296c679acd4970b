"""Resolve a follow-up question against the conversation so far."""
from __future__ import annotations

import re

_PRONOUN = re.compile(r"\b(it|its|he|she|him|her|his|they|them|their|there)\b", re.I)
_NAME = re.compile(r"\b([A-Z$][\w'$,.-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'-]*)*)")
_QWORDS = {"What", "Who", "Whom", "Where", "When", "Why", "How", "Which", "Did", "Does", "Do", "Is", "Was", "Are",
           "Were", "Can", "Could", "Has", "Have", "Had", "And", "But", "So", "In", "On", "At"}


def _names(text: str) -> list[str]:
    """Capitalised phrases that are not just the question word."""
    out = []
    for m in _NAME.finditer(text):
        words = [w for w in m.group(1).split() if w not in _QWORDS]
        if words:
            out.append(" ".join(words).rstrip(",."))
    return out


def resolve(question: str, history: list[tuple[str, str]], turns: int = 1) -> tuple[str, str]:
    """(search query, reading question) for `question` given earlier (question, answer) turns.

    Retrieval gets the question expanded with the last turns. The reader gets the question with its
    pronouns replaced by what they most likely refer to: a place or thing is usually the last answer;
    a person is the last answer only if the last question asked "who", else a name in that question.
    """
    if not history:
        return question, question
    recent = history[-turns:]
    search = " ".join([*(f"{q} {a}" for q, a in recent), question])
    last_q, last_a = recent[-1]
    answer = last_a if last_a and len(last_a.split()) <= 8 else ""
    answer_names, question_names = _names(answer), _names(last_q)
    asked_who = last_q.strip().lower().startswith(("who", "whom", "whose"))

    def referent(m: re.Match) -> str:
        p = m.group(1).lower()
        if p in ("he", "she", "him", "her", "his"):
            order = answer_names + question_names if asked_who else question_names + answer_names
        else:  # it, its, they, them, their, there
            order = answer_names + ([answer] if answer else []) + question_names
        if not order:
            return m.group(0)
        name = order[0]
        if p == "there":
            return f"in {name}"
        followed_by_word = re.match(r"\s+[a-z]", question[m.end():]) is not None
        if p in ("its", "his", "their") or (p == "her" and followed_by_word):
            return f"{name}'s"
        return name

    return search, _PRONOUN.sub(referent, question)
