"""Question vectors through ONNX Runtime: the same vectors as torch, exported once, remade when damaged."""
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

try:
    from sentence_transformers.sentence_transformer.modules import Pooling
except ImportError:  # sentence-transformers 5
    from sentence_transformers.models import Pooling

from qa.index import Embedder
from qa.models import minilm_path
from qa.onnx_encoder import OnnxQueryEncoder


@pytest.fixture(scope="module")
def st_model():
    return SentenceTransformer(str(minilm_path()), device="cpu")


@pytest.fixture(scope="module")
def exported(st_model, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return cache, OnnxQueryEncoder.load(st_model, minilm_path(), cache)


def test_vectors_match_torch(exported):
    _, encoder = exported
    assert encoder is not None
    torch_path = Embedder("minilm", str(minilm_path()), onnx_query=False)
    questions = ["Who met Xi?", "Где находится Харбин? 哈尔滨在哪里?", "How much " + "trade " * 400 + "was there?"]
    for q in questions:
        a, b = encoder(q), torch_path.encode_query(q)
        assert a.shape == b.shape == (1, 384)
        assert float((a @ b.T).item()) > 0.99999, q
        assert abs(np.linalg.norm(a) - 1) < 1e-5


def test_export_is_reused_and_a_damaged_one_remade(exported, st_model):
    cache, encoder = exported
    (folder,) = cache.glob("onnx-query-*")
    model = folder / "model.onnx"
    stamp = model.stat().st_mtime_ns
    assert OnnxQueryEncoder.load(st_model, minilm_path(), cache) is not None
    assert model.stat().st_mtime_ns == stamp  # not exported again
    model.write_bytes(b"not a model")
    again = OnnxQueryEncoder.load(st_model, minilm_path(), cache)
    assert again is not None and float((again("Who met Xi?") @ encoder("Who met Xi?").T).item()) > 0.99999


def test_other_pooling_stays_on_torch(st_model, tmp_path):
    cls_pooled = SentenceTransformer(modules=[st_model[0], Pooling(384, pooling_mode="cls")], device="cpu")
    assert OnnxQueryEncoder.load(cls_pooled, minilm_path(), tmp_path) is None
    assert not list(tmp_path.iterdir())
