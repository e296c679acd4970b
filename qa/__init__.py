"""Offline, grounded question answering over news articles."""
from qa.answer import Answer, Source
from qa.assistant import Assistant, QuestionError

__all__ = ["Answer", "Assistant", "QuestionError", "Source"]
