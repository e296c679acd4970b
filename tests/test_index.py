import json

import numpy as np
import pytest

from qa.assistant import open_index
from qa.index import Embedder, Index, IndexLoadError
from qa.models import minilm_path
from qa.settings import Settings

EMB_ID = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def embedder():
    return Embedder(EMB_ID, str(minilm_path()))


@pytest.fixture()
def saved(tmp_path, article, embedder):
    index = Index.build([article], embedder, 80, 1)
    index.save(tmp_path / "index")
    return tmp_path / "index"


def test_round_trip_with_manifest(saved, article):
    index = Index.load(saved, EMB_ID, 80, 1)
    m = json.loads((saved / "manifest.json").read_text())
    assert m["embedder"] == EMB_ID and m["chunking"] == {"words": 80, "overlap": 1}
    assert m["documents"] == {"article": article.sha256} and m["format_version"] == 1
    assert index.faiss.ntotal == len(index.chunks) == m["n_chunks"]


def test_truncated_faiss_file_is_caught(saved):
    f = saved / "vectors.faiss"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(IndexLoadError, match="corrupt"):
        Index.load(saved, EMB_ID, 80, 1)


def test_other_embedder_is_stale(saved):
    with pytest.raises(IndexLoadError, match="embedder"):
        Index.load(saved, "some/other-model", 80, 1)


def test_other_chunking_is_stale(saved):
    with pytest.raises(IndexLoadError, match="chunking"):
        Index.load(saved, EMB_ID, 50, 1)


def test_missing_chunk_store_is_caught(saved):
    (saved / "chunks.json").unlink()
    with pytest.raises(IndexLoadError, match="missing"):
        Index.load(saved, EMB_ID, 80, 1)


def test_corrupt_index_is_rebuilt_from_its_documents(saved, embedder, caplog):
    (saved / "vectors.faiss").write_bytes(b"garbage")
    settings = Settings(index_dir=str(saved))
    index = open_index(settings, embedder)
    assert "rebuilding" in caplog.text
    assert Index.load(saved, EMB_ID, 80, 1).faiss.ntotal == len(index.chunks) > 0


def test_missing_index_is_built(tmp_path, embedder):
    settings = Settings(index_dir=str(tmp_path / "fresh"))
    index = open_index(settings, embedder)
    assert "article" in index.documents and (tmp_path / "fresh" / "manifest.json").exists()


def test_query_vector_matches_batch_encoding_and_cache_is_safe(embedder):
    q = "Which city did Putin visit on the second day?"
    batch = embedder.encode([q, "Harbin is in northeastern China."])
    single = embedder.encode_query(q)
    assert single.shape == (1, batch.shape[1])
    assert np.allclose(single[0], batch[0], atol=1e-5)
    single[:] = 0  # a caller changing its copy must not change what the cache returns next time
    assert np.allclose(embedder.encode_query(q)[0], batch[0], atol=1e-5)
