"""Understand a typed question: undo chat shorthand and typos, and decide which answer shape fits it.

Kinds (the shape of the reply):
  factoid      who/what/when/where/how much: a short span
  explanation  why/how, "what did X say about Y", "what happened …": the sentence or two that answer it
  summary      "summarize", "what is this about", "tl;dr", …: an extractive summary of the document
  yesno        "did …", "is …": the evidence sentence
The rules are measured on tests/data/dev-chat.json (`qa eval` reports kind accuracy).
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from functools import lru_cache

FACTOID, EXPLANATION, SUMMARY, YESNO = "factoid", "explanation", "summary", "yesno"

# Chat shorthand -> words; matched as whole words, case-insensitively.
_SHORTHAND = {
    "whats": "what is", "wats": "what is", "wat": "what", "whos": "who is", "wheres": "where is", "hows": "how is",
    "whens": "when is", "whys": "why is", "howd": "how did", "whatd": "what did", "whered": "where did",
    "whod": "who did", "whyd": "why did", "n": "and", "u": "you", "ur": "your", "r": "are", "abt": "about",
    "bout": "about", "bc": "because", "cuz": "because", "coz": "because", "pls": "please", "plz": "please",
    "ppl": "people", "w": "with", "w/": "with", "govt": "government", "gov": "government", "yr": "year",
    "yrs": "years", "thru": "through", "tho": "though", "dont": "don't", "didnt": "didn't", "doesnt": "doesn't",
    "isnt": "isn't", "wasnt": "wasn't", "werent": "weren't", "arent": "aren't", "cant": "can't", "wont": "won't",
    "hasnt": "hasn't", "havent": "haven't", "im": "I'm", "ive": "I've", "b4": "before", "2day": "today",
    "tht": "that", "wht": "what", "whr": "where", "wen": "when", "cud": "could", "shud": "should", "wud": "would",
    "pct": "percent", "approx": "approximately", "info": "information", "ceo": "CEO", "tl;dr": "tldr",
}
_WORD = re.compile(r"[A-Za-z0-9][\w'/;-]*")

_SUMMARY = re.compile(
    r"\b(summari[sz]e|summary|sum (it |this |that |things |the \w+ )?up|tl;? ?dr|gist|main (points?|idea|takeaways?)|"
    r"key (points?|takeaways?|facts)|takeaways?|overview|recap|in a nutshell|highlights|brief me|rundown|"
    r"what( is| was)? (this|the|that)( [\w-]+){0,4} (article|story|piece|report|text|news|document)\b( \w+){0,4} about|"
    r"what( is| was) (it|this|that)( one| thing)?( all)? about|what is (this|that) all about|"
    r"what does (it|this|that|(the|this|that)( [\w-]+){0,3} (article|story|piece|report|text|document)) say\W*$|"
    r"what happened in (this|the) (article|story|piece)|short version|explain (the|this) (article|story))", re.I)
_AUX = re.compile(r"^(so |and |but |ok |okay |wait |hmm )?(is|are|was|were|do|does|did|has|have|had|can|could|will|"
                  r"would|should|shall|may|might|must|isn't|aren't|wasn't|weren't|don't|doesn't|didn't|hasn't|"
                  r"haven't|won't|can't)\b", re.I)
_DEGREE = r"many|much|long|old|far|big|large|often|tall|high|soon|fast|deep|wide|heavy|severe|bad|expensive"
_HOW_MUCH = re.compile(rf"^(so |and |but )?how ({_DEGREE})\b", re.I)
_EXPLAIN = re.compile(
    r"^(so |and |but |ok |okay )?(why|how|explain|describe|tell me|in what way)\b|\b(why|how)\W*$|"
    r"\b(and|or) (why|on what grounds|for what reason)\b|\bknown for\b|\bwhat( is| happens)? next\b|"
    r"\bwhat( else)? (did|does|do|has|have|had|was|were|is|are) .{0,60}\b(say|said|saying|think|thought|claim|claimed|"
    r"talk|talked|discuss|discussed|speak|spoke|"
    r"argue|argued|announce|announced|warn|warned|mean|meant|react|respond|responded|want|wanted|plan|planned|"
    r"criticise|criticize|criticised|criticized|promise|promised|propose|proposed|demand|demanded|ask|asked|offer|"
    r"offered|doing)\b|"
    r"\bwhat (happened|happens|is happening|was happening|went wrong|caused|causes|led to|leads to|"
    r"triggered|made)\b|"
    r"\bwhat (is|are|was|were) .{0,60}\babout\b|"
    r"\bwhat (are|were|is|was) the (\w+ )?(reasons?|concerns?|role|causes?|criticisms?|consequences|effects|impact|"
    r"implications|worry|worries|objections|problems?|issues?|complaints?|arguments?|risks?|benefits?|"
    r"significance|background|context|outcome|response|reaction)\b|"
    r"\b(reasons?|explanation) (for|why|behind)\b|^(on|for) what (grounds|reasons?)\b|\bwhat do we know about\b|"
    r"\bany (details|info)",
    re.I)

# What a question asks for, one table for every stage that reads it: the selector weighs each against what a sentence
# states (qa.selector), and a span without a number or a date for ASKS_NUMBER or ASKS_TIME is no answer
# (qa.confidence).
ASKS_CAUSE = re.compile(r"\b(why|how come|what (caused|led to|made)|reasons?|on what grounds)\b", re.I)
ASKS_MANNER = re.compile(rf"^\W*(\w+ )?how\b(?! ({_DEGREE})\b)", re.I)
ASKS_SPEECH = re.compile(r"\b(say|said|says|think|thought|react|respond|responded|claim|claimed|argue|argued|warn|"
                         r"warned|describe|call)\b", re.I)
ASKS_PERSON = re.compile(r"\b(who|whom|whose)\b", re.I)
ASKS_TIME = re.compile(r"^\W*(when\b|(in |on |during )?what (year|date|day|month|time|century|decade)\b)", re.I)
ASKS_NUMBER = re.compile(r"\b(how (many|much|old|far|large|big|high|tall|often)|what (percentage|percent|proportion|"
                         r"number|amount|share|age)|population|by how)\b", re.I)


def expand_shorthand(question: str) -> str:
    """'whats the trade between russia n china??' -> 'what is the trade between russia and china?'"""
    def swap(m: re.Match) -> str:
        word = m.group(0)
        new = _SHORTHAND.get(word.lower())
        if new is None:
            return word
        return new[0].upper() + new[1:] if word[0].isupper() and new[0].islower() else new

    q = _WORD.sub(swap, question)
    q = re.sub(r"\s*([?!.])[?!.\s]*$", r"\1", q)  # "??", "?!", "? ." -> one mark
    q = re.sub(r"[\s,]*\b(please|thanks|thank you|thx)\b[\s.!]*$", "", q, flags=re.I)  # a trailing courtesy
    q = re.sub(r"^(please|pls|hey|hi|hello|ok|okay|so)[,\s]+(?=\w)", "", q, flags=re.I)
    return q.strip()


_FILLER = re.compile(
    r"\b(can|could|would|you|u|me|i|for|give|please|pls|plz|thanks|want|need|of|the|this|that|it|its|a|an|all|some|"
    r"on|in|one|s|what|is|was|about|say|does|do|tell|explain|article|story|piece|report|text|news|document|short|quick|"
    r"summari[sz]e|summary|sum|up|tl|dr|tldr|gist|main|points?|key|takeaways?|idea|overview|recap|nutshell|"
    r"highlights|brief|rundown|version|facts)\b|[^\w\s]", re.I)


def summary_topic(question: str) -> str:
    """What a summary request names as its subject ('tl;dr of the flood story' -> 'flood'); '' if nothing."""
    return " ".join(_FILLER.sub(" ", question).split())


def opens_with_auxiliary(question: str) -> bool:
    """Whether a question opens with an auxiliary ("did he …", "isn't it …"): the form of a yes/no question."""
    return bool(_AUX.match(question.strip()))


def statement(question: str) -> str:
    """A yes/no question without its leading auxiliary ("is the fire contained yet" -> "the fire contained yet"):
    what it asserts, which its evidence sentence reads like more than a question does (the sentence models and the
    reader were trained on wh-questions)."""
    return _AUX.sub("", question.strip(), count=1).strip() or question


# the patterns above spell "what is" only: `classify` reads "what's" (and who's, it's …) as that first
_IS = re.compile(r"\b(what|who|where|when|why|how|that|it)['’]s\b", re.I)


def classify(question: str) -> str:
    """The answer shape that fits the question (see the module's docstring)."""
    q = _IS.sub(r"\1 is", question.strip())  # "what's he worried about" reads as "what is …"
    if _SUMMARY.search(q):
        return SUMMARY
    if _HOW_MUCH.search(q):
        return FACTOID
    if opens_with_auxiliary(q) and " or " not in q.lower():
        return YESNO
    if _EXPLAIN.search(q):
        return EXPLANATION
    return FACTOID


@lru_cache(maxsize=1)
def _known_words() -> frozenset[str]:
    """Whole English words of the reader's wordpiece vocabulary: a word there is no typo."""
    from qa.models import minilm_path

    try:
        lines = (minilm_path() / "vocab.txt").read_text(encoding="utf-8").split()
    except OSError:
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and not w.startswith("##"))


class Speller:
    """Corrects a misspelt word to a word of the indexed documents ('harbn' -> 'harbin').

    Only words that are neither English (in the wordpiece vocabulary) nor in the documents are touched,
    and only when one document word is close (difflib ratio >= 0.8): names stay as typed otherwise.
    """

    def __init__(self, texts: list[str]):
        counts = Counter(w.lower() for t in texts for w in re.findall(r"[A-Za-z][A-Za-z'-]+", t))
        self.vocab = {w for w, n in counts.items() if len(w) >= 4}
        lower = {w for t in texts for w in re.findall(r"\b[a-z]+\b", t)}
        mid = {w.lower() for t in texts for w in re.findall(r"(?<=[a-z,;] )[A-Z][A-Za-z]+", t)}
        # words the documents write capitalised mid-sentence and never in lower case: names ("Harbin", "Xi")
        self.names = mid - lower
        self.common = lower
        self._by_first: dict[str, list[str]] = {}
        for w in sorted(self.vocab, key=lambda w: -counts[w]):
            self._by_first.setdefault(w[0], []).append(w)
        self._known = _known_words()

    def word(self, word: str) -> str:
        low = word.lower()
        if len(low) < 4 or not low.isalpha() or low in self.vocab or low in self._known:
            return word
        pool = self._by_first.get(low[0], [])
        match = difflib.get_close_matches(low, pool, n=1, cutoff=0.8)
        return match[0] if match else word

    def __call__(self, question: str) -> str:
        return re.sub(r"[A-Za-z]+", lambda m: self.word(m.group(0)), question)
