"""The reader's span model exported once to ONNX and quantised to int8 (dynamic: int8 weights, activations
quantised on the fly), run by ONNX Runtime. Opt-in (`reader_int8` in settings): `qa bench` and `qa eval` measure
what it saves and what it costs in F1. Anything unusual (no onnxruntime, a failed export) stays on torch.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

import numpy as np

log = logging.getLogger("qa")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _key(model_id: str, adapter: str | None) -> str:
    """Changes when the base or adapter weights, or the exporting libraries, change."""
    import onnxruntime
    import torch

    files = [p for d in (model_id, adapter) if d for p in sorted(Path(d).glob("*.safetensors"))]
    stats = [(str(p.resolve()), p.stat().st_size, int(p.stat().st_mtime)) for p in files]
    return hashlib.sha256(repr((stats, torch.__version__, onnxruntime.__version__)).encode()).hexdigest()[:16]


def _export(model, tokenizer, target: Path) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from qa.onnx_export import export

    class Spans(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    def quantise(folder: Path) -> None:
        float_graph = folder.with_name(folder.name + ".float")  # the exporter's graph and its external weights
        folder.rename(float_graph)
        folder.mkdir()
        quantize_dynamic(str(float_graph / "model.onnx"), str(folder / "model.onnx"), weight_type=QuantType.QInt8,
                         per_channel=True)
        shutil.rmtree(float_graph)

    example = tokenizer(["What is this about?"], ["A passage about it."], return_tensors="pt")
    export(Spans(model).eval(), tuple(example[k] for k in INPUTS), list(INPUTS), ["start_logits", "end_logits"],
           target, finish=quantise)


class Int8Spans:
    """start_logits, end_logits for a padded batch, as the torch model gives them."""

    def __init__(self, session):
        self.session = session

    @classmethod
    def load(cls, model, tokenizer, model_id: str, adapter: str | None, cache: Path) -> "Int8Spans | None":
        try:
            import onnxruntime as ort

            target = cache / f"reader-int8-{_key(model_id, adapter)}"
            if not (target / "model.onnx").exists():
                _export(model, tokenizer, target)
            options = ort.SessionOptions()
            options.log_severity_level = 3
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return cls(ort.InferenceSession(str(target / "model.onnx"), options, providers=["CPUExecutionProvider"]))
        except Exception as e:  # noqa: BLE001 - any failure here only costs speed
            log.warning("int8 reader unavailable (%s: %s); using torch", type(e).__name__, e)
            return None

    def __call__(self, batch: dict) -> tuple[np.ndarray, np.ndarray]:
        feed = {k: np.asarray(batch[k], dtype=np.int64) for k in INPUTS}
        start, end = self.session.run(None, feed)
        return start, end
