"""Passage reranker: a cross-encoder that reads the question and a passage together and scores whether the
passage holds the answer.

The fused retrieval (qa.retrieval) ranks by vectors and word overlap, each of which sees the question and the
passage apart. This reads them jointly (all-MiniLM-L6-v2 with a LoRA adapter and a one-unit head on its mean-pooled
tokens, trained by `qa train-reranker` on SQuAD: the chunk holding the answer against BM25-hard chunks of the same
article and half A's unanswerable questions), and reorders the fused top `rerank_k`. Its probability for a passage
joins the score of a sentence answer taken from it (qa.shapes). It is not a span-confidence feature: fitted on one
held-out article and applied to another it lowered F1 (scripts/open-retrieval.py, README "Reranker"). The adapter
and head ship in models/reranker-minilm-squad-lora with a model card. The same class loads the optional
answer-sentence cross-encoder (models/sentence-minilm-squad-lora, `qa train-reranker --unit sentence`).
"""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np

from qa.models import native_amx
from qa.retrieval import reciprocal_rank_fusion

MAX_LEN = 192  # question + one chunk of at most 80 words fits


def cross_encoder(encoder, hidden: int):
    """The scoring module: encoder tokens, mean-pooled over the attention mask, to one logit."""
    import torch

    class CrossEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(hidden, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):  # qa.int8's input order, so it exports as is
            h = self.encoder(input_ids=input_ids, token_type_ids=token_type_ids,
                             attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return self.head((h * m).sum(1) / m.sum(1).clamp(min=1.0)).squeeze(-1)

    return CrossEncoder()


def encode_pairs(tokenizer, questions: list[str], texts: list[str]):
    return tokenizer(questions, texts, truncation="only_second", max_length=MAX_LEN, padding=True,
                     return_tensors="pt")


class Reranker:
    """Cheap to construct; the model loads on first use (`warm_up`). With `int8`, it runs through ONNX Runtime with
    int8 weights (qa.int8), exported once into the cache: half the time, the same ranking (README, "Reranker").
    With `bf16`, where the CPU has AMX, it runs on torch under bfloat16 autocast instead, int8 or not: 0.4x int8's
    time there (README, "Measured")."""

    def __init__(self, path: str | Path, batch_size: int = 16, int8: bool = False, bf16: bool = False):
        self.path = Path(path)
        self.batch_size = batch_size
        self.bf16 = bf16 and native_amx()
        self.int8 = int8 and not self.bf16
        self._model = None
        self._tok = None
        self._int8 = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._tok is None:
                model, tok = load(self.path)
                if self.int8:
                    self._int8 = _int8(model, tok, self.path)
                self._model = None if self._int8 else model  # the int8 session holds its own weights
                self._tok = tok

    def scores(self, question: str, texts: list[str]) -> np.ndarray:
        """One logit per text: higher means more likely to hold the answer."""
        import torch

        self.warm_up()
        out = []
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            for i in range(0, len(texts), self.batch_size):
                batch = texts[i:i + self.batch_size]
                enc = encode_pairs(self._tok, [question] * len(batch), batch)
                if self._int8:
                    out.append(self._int8(enc)[0])
                else:
                    out.append(self._model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
                               .float().numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype="float32")

    def rerank(self, question: str, passages: list, k: int, fusion: int = 0) -> list:
        """The best `k` of `passages` (given best first), each with its `rerank` score: those the cross-encoder scores
        highest or, with `fusion` > 0, those best by reciprocal rank fusion (that constant) of its order and the
        order given (README, "Reranker")."""
        s = self.scores(question, [p.chunk.text for p in passages])
        order = [int(i) for i in np.argsort(-s, kind="stable")]
        if fusion > 0:
            fused = reciprocal_rank_fusion([list(range(len(passages))), order], fusion)
            order = sorted(range(len(passages)), key=lambda i: -fused[i])
        return _scored(passages, s, order[:k])

    def score(self, question: str, passages: list) -> list:
        """`passages` in the order given, each with its `rerank` score."""
        s = self.scores(question, [p.chunk.text for p in passages])
        return _scored(passages, s, range(len(passages)))


def _scored(passages: list, s: np.ndarray, order) -> list:
    return [dataclasses.replace(passages[i], rerank=float(s[i]), rank=r) for r, i in enumerate(order)]


def _int8(model, tokenizer, path: Path):
    """The model through ONNX Runtime with int8 weights, or None (it stays on torch)."""
    from qa.int8 import Int8Model, weights_key
    from qa.models import cache_root, minilm_path

    target = cache_root() / f"reranker-int8-{weights_key(minilm_path(), path)}"
    return Int8Model.load(model, tokenizer, target, ["logits"], "reranker")


def load_head(model, folder: Path) -> None:
    """The head's weights, saved beside the adapter as head.safetensors (keys "head.weight", "head.bias")."""
    from safetensors.torch import load_file

    model.head.load_state_dict({k.removeprefix("head."): v for k, v in load_file(str(folder / "head.safetensors")).items()})


def load(path: Path):
    """(model in eval mode with the adapter merged, tokenizer) from a shipped reranker folder."""
    from peft import PeftModel
    from transformers import AutoModel, AutoTokenizer

    from qa.models import ModelError, minilm_path, quietly

    base = str(minilm_path())
    try:
        encoder = quietly(AutoModel.from_pretrained, base, add_pooling_layer=False)
        encoder = quietly(lambda: PeftModel.from_pretrained(encoder, str(path)).merge_and_unload())
        model = cross_encoder(encoder, encoder.config.hidden_size)
        load_head(model, path)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise ModelError(f"cannot load the reranker from {path} ({e}); retrain it with `qa train-reranker`") from None
    return model.eval(), AutoTokenizer.from_pretrained(base)
