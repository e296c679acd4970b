"""Shared fixtures. Every test runs offline: any non-loopback connection fails the test."""
from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
NETWORK_ATTEMPTS: list = []


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(real):
    def connect(self, address):
        if not _is_local(address):
            NETWORK_ATTEMPTS.append(address)
            raise ConnectionRefusedError(f"test blocked a network connection to {address!r}")
        return real(self, address)

    return connect


@pytest.fixture(autouse=True, scope="session")
def offline():
    """Block every non-loopback socket connection for the whole run."""
    socket.socket.connect = _guarded(_real_connect)
    socket.socket.connect_ex = _guarded(_real_connect_ex)
    yield NETWORK_ATTEMPTS
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex


@pytest.fixture(scope="session")
def assistant(tmp_path_factory):
    """The real pipeline (models.txt's models) on a fresh index of the shipped article."""
    from qa import Assistant
    from qa.assistant import default_documents

    a = Assistant.load(index_dir=tmp_path_factory.mktemp("index") / "index", documents=default_documents())
    a.warm_up()
    return a


@pytest.fixture(scope="session")
def article():
    from qa.assistant import default_documents

    return default_documents()[0]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny random BertForQuestionAnswering folder: the path a hub id or folder in models.txt takes."""
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    from qa.models import minilm_path

    path = tmp_path_factory.mktemp("tiny-qa")
    tok = AutoTokenizer.from_pretrained(str(minilm_path()))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertForQuestionAnswering(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def article_assistant(assistant, directory):
    """The session's models over a fresh index of the shipped article, saved in `directory`/index (uploads and
    operator changes then touch only that copy)."""
    from dataclasses import replace

    from qa.assistant import default_documents
    from qa.index import Index

    settings = replace(assistant.settings, index_dir=str(Path(directory) / "index"))
    index = Index.build(default_documents(), assistant.embedder, settings.chunk_words, settings.chunk_overlap)
    index.save(settings.index_dir)
    return assistant.with_index(index, settings)


def serve_app(app):
    """The mounted app (API + chat) under uvicorn on a free loopback port, as `qa serve` runs it."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    class Handle:
        def close(self):
            server.should_exit = True
            thread.join(timeout=30)

    return f"http://127.0.0.1:{port}/", Handle()
