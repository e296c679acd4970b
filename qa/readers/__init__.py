"""Readers: pick the implementation that fits the model named for the `reader` role."""
from __future__ import annotations

import json
from pathlib import Path

from qa.models import ModelEntry, ModelError, PACKAGED_IDS, base_path, resolve
from qa.readers.base import Candidate, Reader

__all__ = ["Candidate", "Reader", "make_reader"]


def make_reader(entry: ModelEntry, int8: bool = False, bf16: bool = False) -> Reader:
    """An extractive reader for span-head models and LoRA adapters; the span-scoring reader for causal LMs."""
    from qa.readers.extractive import ExtractiveReader
    from qa.readers.gemma import GemmaSpanReader

    path = resolve(entry)
    folder = Path(path)
    if (folder / "adapter_config.json").exists():
        # an adapter that names no base is MiniLM's, as every adapter was before bases could differ
        base = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path") or \
            "sentence-transformers/all-MiniLM-L6-v2"
        if base in PACKAGED_IDS:
            base = str(base_path(base))
        elif not Path(base).is_dir():
            raise ModelError(f"{folder}: adapter for unknown base {base!r}; known: {', '.join(PACKAGED_IDS)}")
        return ExtractiveReader(base, adapter=str(folder), int8=int8, bf16=bf16)
    config = folder / "config.json"
    if config.exists():
        try:
            archs = json.loads(config.read_text()).get("architectures") or []
        except (OSError, ValueError) as e:
            raise ModelError(f"{config} is damaged ({e}); reinstall or re-export that model") from None
        if any(a.endswith("ForCausalLM") for a in archs):
            return GemmaSpanReader(path)
    return ExtractiveReader(path, int8=int8, bf16=bf16)
