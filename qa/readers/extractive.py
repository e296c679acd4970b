"""Extractive reader: a span head (start/end logits) over question + passage windows.

Fills the reader role with any `AutoModelForQuestionAnswering` checkpoint, or with our
MiniLM base plus the LoRA adapter trained by `qa train`.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.chunking import dateline_ends
from qa.confidence import sigmoid
from qa.models import native_bf16
from qa.readers.base import Candidate

MAX_LEN = 256
STRIDE = 96
MAX_ANSWER_TOKENS = 30
EXCLUDE_TOP = 20  # spans of a window tried in turn when some are excluded (`ExtractiveReader.read`)
CURRENCY = "$€£¥₽"


@dataclass
class SpanScores:
    """Best span of one window and the window's no-answer score, both as start+end logit sums."""

    start: int  # character offsets into the window's passage text
    end: int
    score: float
    null: float


def decode_window(start_logits, end_logits, offsets, context_mask, max_answer_tokens=MAX_ANSWER_TOKENS,
                  line=None, top=1):
    """The `top` best (start, end) spans over the context tokens of one window, best first, plus the CLS
    no-answer score.

    `line` numbers each token's line in the context: an answer never spans a line break, since a
    heading and the paragraph after it are not one phrase.
    """
    s = np.where(context_mask, start_logits, -1e9)
    e = np.where(context_mask, end_logits, -1e9)
    n = len(s)
    # score[i, j] = s[i] + e[j] for i <= j < i + max_answer_tokens
    grid = s[:, None] + e[None, :]
    i, j = np.indices((n, n))
    ok = (j >= i) & (j - i < max_answer_tokens)
    if line is not None:
        ok &= line[:, None] == line[None, :]
    grid = np.where(ok, grid, -1e9).ravel()
    null = float(start_logits[0] + end_logits[0])
    if top == 1:
        best = [int(np.argmax(grid))]  # ties (bfloat16 logits have them) go to the first, as argmax gives them
    else:
        best = sorted(np.argpartition(-grid, top - 1)[:top] if top < grid.size else range(grid.size),
                      key=lambda f: (-grid[f], f))
    spans = []
    for flat in best:
        if grid[flat] <= -1e8:
            break
        bi, bj = divmod(int(flat), n)
        spans.append(SpanScores(int(offsets[bi][0]), int(offsets[bj][1]), float(grid[flat]), null))
    return spans, null


def tokenize_windows(tokenizer, questions, contexts, max_len=MAX_LEN, stride=STRIDE):
    """Question/context pairs as overlapping windows; each window maps back to its pair."""
    return tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=max_len,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )


def context_mask(enc, k):
    seq = enc.sequence_ids(k)
    return np.array([sid == 1 for sid in seq], dtype=bool)


def token_lines(text: str, offsets) -> np.ndarray:
    """The line number of each token's start character; a wire story's dateline is a line of its own."""
    starts = np.array([o[0] for o in offsets])
    breaks = np.array(sorted([m for m, ch in enumerate(text) if ch == "\n"] + [e - 1 for e in dateline_ends(text)]))
    return np.searchsorted(breaks, starts, side="right") if len(breaks) else np.zeros(len(starts), int)


def _whole_amount(text: str, span: SpanScores) -> SpanScores:
    """The span widened to its whole amount: its currency sign and letters, and a bracket it opens."""
    # wordpieces split "$240" into "$" + "240"; a currency sign belongs to the amount
    if span.start > 0 and text[span.start - 1] in CURRENCY and text[span.start:span.start + 1].isdigit():
        span.start -= 1
    # and so do the letters that say whose dollar it is: "A$620 million", "US$405 million", "C$1,250"
    if text[span.start:span.start + 1] in CURRENCY:
        k = span.start
        while k > 0 and span.start - k < 3 and text[k - 1].isupper():
            k -= 1
        if k == 0 or not text[k - 1].isalnum():
            span.start = k
    # "$240 billion (€221 billion": a bracket opened in the span is closed in it
    if text.count("(", span.start, span.end) > text.count(")", span.start, span.end):
        close = text.find(")", span.end, span.end + 3)
        span.end = close + 1 if close >= 0 else span.end
    return span


class ExtractiveReader:
    """Reads passages with a span-prediction head. Cheap to construct; `warm_up` loads weights."""

    name = "extractive"

    def __init__(self, model: str, adapter: str | None = None, int8: bool = False, bf16: bool = False):
        self.model_id = model
        self.adapter = adapter
        self.int8 = int8
        # only where the CPU multiplies bf16 natively: elsewhere autocast is slower than float32
        self.bf16 = bf16 and not int8 and native_bf16()
        self._int8 = None
        self._model = None
        self._tok = None
        self._lock = threading.Lock()

    @property
    def calibration_key(self) -> str:
        return f"{self.name}:{Path(self.adapter or self.model_id).name}" + (":int8" if self.int8 else "") + \
            (":bf16" if self.bf16 else "")

    @classmethod
    def from_loaded(cls, model, tokenizer) -> "ExtractiveReader":
        """Wrap a model already in memory (the one being trained)."""
        reader = cls(getattr(model, "name_or_path", "in-memory"))
        reader._model, reader._tok = model, tokenizer
        return reader

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer

            from qa.models import ModelError, hub_kwargs, quietly

            try:
                self._tok = AutoTokenizer.from_pretrained(self.model_id, **hub_kwargs(self.model_id))
                model = quietly(AutoModelForQuestionAnswering.from_pretrained, self.model_id,
                                 **hub_kwargs(self.model_id))
                if self.adapter:
                    from peft import PeftModel

                    model = quietly(PeftModel.from_pretrained, model, self.adapter).merge_and_unload()
            except Exception as e:
                where = f"{self.model_id}" + (f" + adapter {self.adapter}" if self.adapter else "")
                hint = ("a hub id needs the network once (HF_HUB_OFFLINE=0) or a local copy"
                        if not Path(self.model_id).exists() else "the files are damaged: reinstall or retrain them")
                raise ModelError(f"cannot load the reader {where} ({type(e).__name__}); {hint}") from e
            model.eval()
            if self.int8:
                from qa.models import cache_root
                from qa.readers.int8 import Int8Spans

                self._int8 = Int8Spans.load(model, self._tok, self.model_id, self.adapter, cache_root())
            self._model = model

    def read(self, question: str, passages: list[str], exclude=None) -> list[Candidate]:
        """One best candidate per passage, with the passage's own no-answer score; with `exclude` (a test on a
        span's text), the best one it does not exclude, among each window's `EXCLUDE_TOP` best."""
        self.warm_up()
        import torch

        if not passages:
            return []
        enc = tokenize_windows(self._tok, [question] * len(passages), list(passages))
        cands: dict[int, Candidate] = {}
        batch = self._tok.pad({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                               **({"token_type_ids": enc["token_type_ids"]} if "token_type_ids" in enc else {})},
                              return_tensors="np" if self._int8 else "pt")
        if self._int8:
            starts, ends = self._int8(batch)
        else:
            device = next(self._model.parameters()).device  # a model being trained may sit on a GPU
            with self._lock, torch.inference_mode(), \
                    torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16 and device.type == "cpu"):
                out = self._model(**{k: v.to(device) for k, v in batch.items()})
            starts = out.start_logits.float().cpu().numpy()
            ends = out.end_logits.float().cpu().numpy()
        for k in range(len(enc["input_ids"])):
            pi = enc["overflow_to_sample_mapping"][k]
            n = len(enc["input_ids"][k])
            offsets = enc["offset_mapping"][k]
            spans, null = decode_window(starts[k, :n], ends[k, :n], offsets, context_mask(enc, k),
                                        line=token_lines(passages[pi], offsets), top=EXCLUDE_TOP if exclude else 1)
            for span in spans:
                span = _whole_amount(passages[pi], span)
                if exclude is None or not exclude(passages[pi][span.start:span.end]):
                    break
            else:
                continue
            margin = span.score - null
            best = cands.get(pi)
            if best is None or margin > best.score:
                cands[pi] = Candidate(passage=pi, start=span.start, end=span.end,
                                      text=passages[pi][span.start:span.end],
                                      score=margin, confidence=sigmoid(margin))
        return sorted(cands.values(), key=lambda c: -c.score)
