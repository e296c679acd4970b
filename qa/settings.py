"""Every tunable setting, in one place. `settings.json` in the project root overrides the defaults."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOCUMENT = Path(__file__).resolve().parent / "data" / "article.txt"
SETTINGS_FILE = ROOT / "settings.json"


@dataclass
class Settings:
    models_file: str = str(ROOT / "models.txt")
    index_dir: str = str(ROOT / "index")
    # chunking
    chunk_words: int = 80
    chunk_overlap: int = 1
    # retrieval
    top_k: int = 4  # passages handed to the reader
    rerank_k: int = 12  # fused passages the reranker (models.txt) reads to pick those `top_k`; 0: no reranking
    rrf_k: int = 60  # reciprocal rank fusion of the dense and BM25 rankings: 1 / (rrf_k + rank), rank from 1
    # the reranker's order fused likewise with retrieval's, with this constant (README, "Reranker"); 0: its own order
    rerank_fusion: int = 1
    onnx_query: bool = True  # question vectors through ONNX Runtime (faster, same vectors); False: torch
    reader_int8: bool = False  # the reader through ONNX Runtime, int8 weights (qa/readers/int8.py)
    # the torch reader's matrix products in bfloat16 (torch.autocast) where the CPU has bf16 instructions (avx512_bf16,
    # AMX): the same F1 on fold 4 in 0.6x the time; elsewhere float32 (README, "A larger base")
    reader_bf16: bool = True
    reranker_int8: bool = True  # the reranker likewise: half the time, the same ranking (README, "Reranker")
    # where the CPU has AMX, the reranker (and the sentence scorer) on torch under bfloat16 autocast instead: 0.4x
    # int8's time there; elsewhere as above (README, "Measured")
    reranker_bf16: bool = True
    # answering
    threshold: float = 0.5  # abstain below this confidence; set by `qa calibrate`
    # reader-only evaluation (`qa eval --gold-context`) has its own threshold, the best-F1 one as SQuAD
    # defines it, set by `qa calibrate --gold-context`; None: use `threshold`
    gold_context_threshold: float | None = None
    confidence_weights: dict = field(default_factory=dict)  # per reader model (`calibration_key`); `qa calibrate`
    # answer shapes (qa.question decides the kind of question)
    # a sentence's score: the weighted mean of the selector's probability, the sentence cross-encoder's (models.txt
    # `sentence_scorer`), the reader's confidence in a span inside it, and the reranker's probability for its passage
    # (when passages were reranked)
    sentence_selector_weight: float = 1.0
    sentence_scorer_weight: float = 1.0
    sentence_reader_weight: float = 1.0
    sentence_passage_weight: float = 1.0
    sentence_threshold: float = 0.3  # that score needed for a sentence or evidence answer; `qa calibrate CHAT_SET`
    summary_words: int = 120  # word budget of a summary
    max_question_chars: int = 2000
    history_turns: int = 3  # earlier turns a follow-up is resolved against, each against the ones before it
    followup_extra_k: int = 2  # a follow-up also reads the best passages for itself alone (qa.assistant._search)

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides) -> "Settings":
        path = Path(path) if path else SETTINGS_FILE
        values = {}
        if path.exists():
            try:
                values = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise ValueError(f"{path}: not valid JSON ({e})") from e
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def save_overrides(self, path: str | Path | None = None, **changes) -> None:
        """Write `changes` into the overrides file, keeping what is already there."""
        path = Path(path) if path else SETTINGS_FILE
        current = json.loads(path.read_text()) if path.exists() else {}
        current.update(changes)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(current, indent=2) + "\n")
        tmp.replace(path)
        for k, v in changes.items():
            setattr(self, k, v)

    def to_dict(self) -> dict:
        return asdict(self)
