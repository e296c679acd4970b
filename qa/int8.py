"""Models run through ONNX Runtime with int8 weights (dynamic quantisation: int8 weights per channel, activations
quantised on the fly): exported once into the cache, keyed by their weights and the exporting libraries. The int8
reader and the int8 reranker use it; anything unusual (no onnxruntime, a failed export) stays on torch.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

import numpy as np

log = logging.getLogger("qa")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # the last only for models whose tokenizer gives it


def weights_key(*folders: str | Path | None) -> str:
    """Changes when the weights in `folders`, or the exporting libraries, change."""
    import onnxruntime
    import torch

    files = [p for d in folders if d for p in sorted(Path(d).glob("*.safetensors"))]
    stats = [(str(p.resolve()), p.stat().st_size, int(p.stat().st_mtime)) for p in files]
    return hashlib.sha256(repr((stats, torch.__version__, onnxruntime.__version__)).encode()).hexdigest()[:16]


def _quantise(folder: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    float_graph = folder.with_name(folder.name + ".float")  # the exporter's graph and its external weights
    folder.rename(float_graph)
    folder.mkdir()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser advises pre-processing on the root logger, to whoever runs the app
    try:
        quantize_dynamic(str(float_graph / "model.onnx"), str(folder / "model.onnx"), weight_type=QuantType.QInt8,
                         per_channel=True)
    finally:
        root.setLevel(level)
    shutil.rmtree(float_graph)


class Int8Model:
    """The outputs of an exported module for a padded batch (numpy), as the torch module gives them."""

    def __init__(self, session):
        self.session = session
        self.inputs = [i.name for i in session.get_inputs()]

    @classmethod
    def load(cls, module, tokenizer, target: Path, output_names: list[str], what: str) -> "Int8Model | None":
        """`module(input_ids, attention_mask[, token_type_ids])` exported to `target` unless there already; None (and
        a warning naming `what`) when that fails."""
        try:
            import onnxruntime as ort
            import torch

            from qa.onnx_export import export

            if not (target / "model.onnx").exists():
                example = tokenizer(["What is this about?"], ["A passage about it."], return_tensors="pt")
                names = [k for k in INPUTS if k in example]  # mpnet has no token type ids
                export(module.eval(), tuple(example[k] for k in names), names, output_names, target, finish=_quantise)
            options = ort.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = torch.get_num_threads()  # what the process allows torch (a Ray replica: 1)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return cls(ort.InferenceSession(str(target / "model.onnx"), options, providers=["CPUExecutionProvider"]))
        except Exception as e:  # noqa: BLE001 - any failure here only costs speed
            log.warning("int8 %s unavailable (%s: %s); using torch", what, type(e).__name__, e)
            return None

    def __call__(self, batch: dict) -> list[np.ndarray]:
        return self.session.run(None, {k: np.asarray(batch[k], dtype=np.int64) for k in self.inputs})
