"""The reader's span model through ONNX Runtime with int8 weights (qa.int8). Opt-in (`reader_int8` in settings):
`qa bench` and `qa eval` measure what it saves and what it costs in F1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.int8 import Int8Model, weights_key


class Int8Spans:
    """start_logits, end_logits for a padded batch, as the torch model gives them."""

    def __init__(self, model: Int8Model):
        self.model = model

    @classmethod
    def load(cls, model, tokenizer, model_id: str, adapter: str | None, cache: Path) -> "Int8Spans | None":
        import torch

        class Spans(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids=None):
                extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
                out = self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra)
                return out.start_logits, out.end_logits

        target = cache / f"reader-int8-{weights_key(model_id, adapter)}"
        loaded = Int8Model.load(Spans(model), tokenizer, target, ["start_logits", "end_logits"], "reader")
        return cls(loaded) if loaded else None

    def __call__(self, batch: dict) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.model(batch)
        return start, end
