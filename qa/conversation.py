"""Resolve a follow-up question against the conversation so far."""
from __future__ import annotations

import re

from qa.metrics import normalize_answer
from qa.question import opens_with_auxiliary

_PRONOUN = re.compile(r"\b(it|its|he|she|him|her|hers|his|they|them|em|their|theirs|there|that)\b", re.I)
_LEAD = re.compile(r"^(?:(and|but|so|also|plus|then|ok|okay)\b[\s,]*)?(?:(what|how) about|what of|and)?\s*", re.I)
_QWORDS = r"why|how|when|where|who|whom|what|which"
_WH = re.compile(rf"^({_QWORDS}|how come|how so)\b", re.I)
# "Why?", "when was that?": the question is about the last turn's event as a whole
_WH_ONLY = re.compile(r"^((why|how|when|how come|how so|how (much|many|long))( (is|was|did|does|exactly|that|so|then|not))*|where|who|what|"
                      r"which)\W*$", re.I)
_ENDS_WH = re.compile(rf"\b({_QWORDS})\W*$", re.I)
_ATTACHED = re.compile(r"^(in|on|at|for|to|from|with|by|about|of|the|those|these|this|that|a|an)\b", re.I)
_AUX = r"(?:did|does|do|is|was|are|were|has|have|had|will|would|can|could)"
# "How much did Bluegum lose": the question word and its noun, before the auxiliary; "Why?" asks about the rest
_WH_HEAD = re.compile(rf"^(?:how\s+\w+|what|which|who|whom|whose|when|where)(?:\s+\w+)??\s+(?={_AUX}\b)", re.I)
_NAME = re.compile(r"\b([A-Z$][\w'$,.-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'-]*)*)")
_QWORDS = {"What", "Who", "Whom", "Where", "When", "Why", "How", "Which", "Did", "Does", "Do", "Is", "Was", "Are",
           "Were", "Can", "Could", "Has", "Have", "Had", "And", "But", "So", "In", "On", "At"}


# capitalised only because a sentence starts with them: "He called them …", "For his plan", "No, …"
_FUNCTION = frozenset("he she it they we i you his her its their our my your him them us this that these those there "
                      "for because no yes not and but or so as at by in on of to with from after before since while "
                      "when if then also just only about the a an".split())
_NOUN_PHRASE = re.compile(r"^(\W?\d|[$€£¥]|[A-Za-z])")  # a word, a number or a sum; not a quote or a dash


def _names(text: str, common: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Capitalised phrases that are not just the question word. A sentence's first word is no name when it is a
    function word or one the documents also write in lower case (`common`)."""
    out = []
    for m in _NAME.finditer(text):
        words = m.group(1).split()
        before = text[:m.start()].rstrip()
        if words and (not before or before[-1] in ".!?:\"“"):
            first = words[0].strip(",.").lower()
            if first in _FUNCTION or first in common:
                words = words[1:]
        words = [w for w in words if re.sub(r"'s$", "", w) not in _QWORDS]  # "Who's" is "Who is"
        if words:
            out.append(" ".join(words).rstrip(",."))
    return out


def _is_referent(answer: str, common: frozenset[str] | set[str]) -> bool:
    """Whether an answer reads as a thing "it" or "they" can stand for ("Harbin", "a monument to fallen Soviet
    soldiers", "$240 billion"), not a sentence ("He called them an example of unfair competition")."""
    words = answer.split()
    if not words or len(words) > 6 or not _NOUN_PHRASE.match(answer):
        return False
    first = words[0].strip(",.\"'").lower()
    return first in ("the", "a", "an") or (first not in _FUNCTION and first not in common)


_STARTS_NP = re.compile(r"^(?:the|a|an|this|that|these|those|its|their|his|her|[A-Z][\w'-]*)\b")
# "When did the levee in Dornbach break?", "What did the CCTV footage show?": the phrase between the auxiliary and
# a final verb; "… say about the US tariffs on Chinese cars?": the phrase a closing "about" introduces
_SUBJECT = re.compile(rf"^\W*(?:\w+\s+){{0,3}}?{_AUX}\s+(.+?)\s+[a-z]+\W*$")
_TOPIC = re.compile(r"\babout\s+((?:the|a|an|this|that|these|those|[A-Z][\w'-]*)\b[^?!.]*?)\W*$")
# an answer to these is a time or an amount, which "it" does not stand for ("why did it fail" after "when did the
# levee break?": the levee)
_ASKS_AMOUNT = re.compile(r"^\W*(when|what time|what year|how (much|many|long|far|big|large|old))\b", re.I)
_VERBISH = re.compile(rf"^(?:{_AUX}|said|says|say|called|calls|call)$", re.I)
_ADVERB = re.compile(r"\s+(?:now|then|still|already|yet|today|currently|really|actually|ever|also|just|even)\b.*$", re.I)


def _phrases(question: str) -> list[str]:
    """Noun phrases a question is about, most likely referent first: its topic ("about …"), its subject, and else
    its first "the …" phrase, up to a verb ("Who said the China-Russia relationship is …")."""
    out = []
    for pattern in (_TOPIC, _SUBJECT):
        m = pattern.search(question)
        if not m or not _STARTS_NP.match(m.group(1)) or len(m.group(1).split()) > 8:
            continue
        phrase = _ADVERB.sub("", m.group(1))
        words = phrase.split()
        # without an article only a name ("Putin spend Friday" is a subject and its verb)
        if words[0][0].isupper() and not all(w[0].isupper() or w in ("of", "and", "the") for w in words):
            continue
        out.append(phrase)
    m = None if out else re.search(r"\bthe\s+[^?!.,;:\"“”]+", question)
    if m:
        words = m.group(0).split()[:5]
        cut = next((i for i, w in enumerate(words[1:], 1) if _VERBISH.match(w)), 0)
        if cut > 1:  # a subject: a verb follows it
            out.append(" ".join(words[:cut]))
    return out


def expand_ellipsis(question: str, last_q: str, last_a: str) -> str:
    """A short follow-up made whole from the last turn: 'Why?' -> 'Why <last question> <its answer>',
    'And in euros?' -> '<last question> in euros', 'What about Xi?' -> the last question with Xi for its name."""
    lead = _LEAD.match(question)
    rest = question[lead.end():].strip() if lead else question
    body = last_q.strip().rstrip("?.! ")
    fragment = rest.rstrip("?.! ")
    if not fragment:
        return question
    if _WH_ONLY.match(rest):
        fragment = re.sub(r"\s+that$", "", fragment, flags=re.I)
        if re.match(r"^(why|how come)$", fragment, re.I) and re.match(r"^(why|how come)\b", body, re.I):
            # "Why?" after a why-question: why its answer is so, not the same question again ("Why Why did …")
            reason = re.sub(r"^(because( of)?|due to|since|as)\s+", "", last_a, flags=re.I)
            return f"{fragment} {reason}?" if reason else last_q
        head = _WH_HEAD.match(body)
        if head:  # "when was that" after "what did they sign": "when did they sign …"
            body = body[head.end():]
            fragment = re.sub(rf"(\s+{_AUX})+$", "", fragment, flags=re.I)
        return f"{fragment} {body} {last_a}".strip() + "?"
    if len(rest.split()) <= 4 and not _WH.match(rest) and not opens_with_auxiliary(rest):
        names = [n for n in _names(last_q) if n.lower() not in rest.lower()]
        # "what about Xi?": the same question, Xi; not "like what?", which asks for more of the last answer
        if names and not _ATTACHED.match(rest) and len(rest.split()) <= 3 and not _ENDS_WH.search(rest):
            return last_q.replace(names[0], fragment, 1)
        return f"{body} {fragment}?"  # "and in euros?", "those soldiers"
    return question


def repeats(text: str, last_answer: str) -> bool:
    """Whether an answer only says again what the last one said: a short follow-up ("and kids?", "like what?",
    "to do what?") asks for something the last answer did not give."""
    words = normalize_answer(text).split()
    said = set(normalize_answer(last_answer).split())
    # its words, but for function words ("at the Harbin Institute …" after "To the Harbin Institute …")
    return bool(words) and all(w in said for w in [w for w in words if w not in _FUNCTION] or words)


def asks_on_its_own(question: str) -> bool:
    """The follow-up's own form says what it asks ('Why?', 'did he …'), though its subject is the last turn's."""
    rest = question[_LEAD.match(question).end():].strip()
    if not rest or re.match(r"^(what|how) about\b", question, re.I):
        return False
    return bool(_WH.match(rest)) or opens_with_auxiliary(rest)


def elliptical(question: str) -> bool:
    """Too short to be read on its own, or plainly continuing the last turn ('and …', 'what about …')."""
    words = question.split()
    return len(words) <= 4 or bool(re.match(r"^(and|but|so|also|what about|how about|what of)\b", question, re.I))


# a noun phrase set before its question, which a pronoun then takes up: "Those soldiers — who did they fight?"
_DISLOCATED = re.compile(r"^\W*((?:the|this|that|these|those)\s+[\w' -]+?)\s*[—–,:]\s*(?=.*\b(they|them|it|he|she)\b)",
                         re.I)
_REFERS = re.compile(r"\b(this|these|those|else|other|another|same|former|latter)\b", re.I)


def leans_on_history(question: str, names: set[str]) -> bool:
    """Whether a question needs the turns before it: elliptical, pointing back (a pronoun, 'this', 'those',
    'else'), or naming nothing of its own ("What is the city sometimes called?"); `names` are the documents'
    names, lower case. A question that names its own subject ("whats the trade between russia n china worth")
    is searched on its own: carrying the last turn along pulled its passages towards that turn's topic."""
    if elliptical(question) or _PRONOUN.search(question) or _REFERS.search(question):
        return True
    return not any(w.lower() in names for w in re.findall(r"[A-Za-z]+", question))


def resolve(question: str, history: list[tuple[str, str]], turns: int = 1,
            names: set[str] = frozenset(), common: set[str] = frozenset()) -> tuple[str, str]:
    """(search query, reading question) for `question` given earlier (question, answer) turns.

    Retrieval gets the question expanded with the last turns, when it leans on them. The reader gets the question
    with its pronouns replaced by what they most likely refer to: a place or thing is usually the last answer;
    a person is the last answer only if the last question asked "who", else a name in that question. `names`
    are the documents' names and `common` the words they write in lower case, both lower case.
    """
    if not history or not leans_on_history(question, names):
        return question, question
    history = history[-turns:]
    last_q, last_a = history[-1]
    if len(history) > 1:  # the last question may itself have leant on the one before ("and in euros?")
        last_q = resolve(last_q, history[:-1], turns, names, common)[1]
    search = f"{last_q} {last_a} {question}"
    answer = re.sub(r"(?<=[a-z0-9])\.$", "", last_a.strip()) if last_a and len(last_a.split()) <= 8 else ""
    answer_names, question_names = _names(answer, common), _names(last_q, common)
    asked_who = last_q.strip().lower().startswith(("who", "whom", "whose"))
    # "it"/"they" stand for the last answer when it is a thing, not a person, a time or an amount, nor the "yes" or
    # "no" of a yes/no question (after "did the stock go up?" "Yes, to A$2.28", "it" is still the stock)
    asked_yes_no = opens_with_auxiliary(last_q)
    about_answer = not asked_who and not _ASKS_AMOUNT.match(last_q) and not asked_yes_no
    thing = [answer] if about_answer and _is_referent(answer, common) else []
    # a yes/no question names its subject first ("Is Harbin the capital of …?")
    asked = question_names + _phrases(last_q) if asked_yes_no else _phrases(last_q) + question_names
    if elliptical(question):
        question = expand_ellipsis(question, last_q, answer)

    # "Those soldiers — who did they fight?": the question names what its pronoun stands for
    dislocated = _DISLOCATED.match(question)
    if dislocated:
        phrase = dislocated.group(1)
        return search, re.sub(rf"\b{dislocated.group(2)}\b", phrase[0].lower() + phrase[1:],
                              question[dislocated.end():], count=1)

    def referent(m: re.Match) -> str:
        p = m.group(1).lower()
        if p in ("he", "she", "him", "her", "hers", "his"):
            order = answer_names + question_names if asked_who else question_names + answer_names
        elif p in ("they", "them", "em", "their", "theirs") and asked_who:
            order = answer_names + asked  # "what did they say" after "Who's the fire chief?": the chief
        elif p == "that":
            order = [answer]  # "that" can stand for all that was said
        elif p == "there":
            order = answer_names + thing + question_names
        else:  # it, its, they, them, their, theirs ("when did theirs open": the last answer's)
            order = (answer_names if about_answer else []) + thing + asked
        if not order:
            return m.group(0)
        name = order[0]
        if p == "there":
            return f"in {name}"
        if p == "that" and (question[m.end():].strip(" ?!.") or not answer):
            return m.group(0)  # "that city", "said that Putin …", or nothing said to point at
        followed_by_word = re.match(r"\s+[a-z]", question[m.end():]) is not None
        if p in ("its", "his", "their") or (p == "her" and followed_by_word):
            return f"{name}'s"
        return name

    return search, _PRONOUN.sub(referent, question)
