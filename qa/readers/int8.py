"""The reader's span model exported once to ONNX and quantised to int8 (dynamic: int8 weights, activations
quantised on the fly), run by ONNX Runtime. Opt-in (`reader_int8` in settings): `qa bench` and `qa eval` measure
what it saves and what it costs in F1. Anything unusual (no onnxruntime, a failed export) stays on torch.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import warnings
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

    class Spans(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")  # two processes may export at once
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    example = tokenizer(["What is this about?"], ["A passage about it."], return_tensors="pt")
    dims = ({0: torch.export.Dim("batch"), 1: torch.export.Dim("tokens")},) * len(INPUTS)
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(Spans(model).eval(), tuple(example[k] for k in INPUTS), str(tmp / "fp32.onnx"),
                              input_names=list(INPUTS), output_names=["start_logits", "end_logits"],
                              dynamic_shapes=dims, dynamo=True, verbose=False)
        finally:
            exporter_log.setLevel(level)
        quantize_dynamic(str(tmp / "fp32.onnx"), str(tmp / "model.onnx"), weight_type=QuantType.QInt8,
                         per_channel=True)
    (tmp / "fp32.onnx").unlink()
    for extra in tmp.glob("*.data"):  # external weights of the fp32 graph, no longer needed
        extra.unlink()
    shutil.rmtree(target, ignore_errors=True)
    try:
        tmp.rename(target)
    except OSError:  # another process got there first
        shutil.rmtree(tmp, ignore_errors=True)


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
