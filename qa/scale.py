"""Scale-out on Ray Serve (the optional extra `scale`; nothing else imports this module).

The answering API runs as a deployment of N replicas (or autoscaled between a min and a max). Each replica
loads the models once and serves the same FastAPI app as the single process (qa.api) over the shared index
folder, which every node must be able to read: one path on a shared disk. A replica reads each new version of
that folder between requests (qa.live), so an operator's change reaches every replica without a restart.

The web chat runs apart, as one front end (qa.web over a RemoteAssistant): it keeps each visitor's session and
sends the questions, with that session's own documents, to the replicas through a deployment handle.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ray import serve

from qa.answer import Answer
from qa.assistant import Assistant, QuestionError
from qa.document import Document
from qa.live import LiveAssistant
from qa.sessions import Limits, Sessions

APP_NAME = "qa"


@dataclass
class ScaleSettings:
    """How many replicas, and how each is sized. With max_replicas set, Ray Serve autoscales between
    min_replicas and max_replicas, aiming at target_ongoing_requests per replica."""
    replicas: int = 2
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_ongoing_requests: float = 2.0
    cpus_per_replica: float = 1.0
    max_ongoing_requests: int = 8  # more wait in the proxy's queue, not inside a busy replica

    def deployment_options(self) -> dict:
        opts: dict = {"ray_actor_options": {"num_cpus": self.cpus_per_replica},
                      "max_ongoing_requests": self.max_ongoing_requests,
                      "health_check_period_s": 2, "graceful_shutdown_timeout_s": 5}
        if self.max_replicas:
            opts["autoscaling_config"] = {"min_replicas": self.min_replicas or 1, "max_replicas": self.max_replicas,
                                          "target_ongoing_requests": self.target_ongoing_requests}
        else:
            opts["num_replicas"] = self.replicas
        return opts


@serve.deployment
@serve.ingress()
class QAReplica:
    """One replica: the models, the shared index as it is now, and the HTTP API over them."""

    def __init__(self, index_dir: str):
        assistant = Assistant.load(index_dir=index_dir)
        assistant.warm_up()
        self.live = LiveAssistant(assistant)
        self._sessions: tuple[Assistant, Sessions] | None = None
        self._lock = threading.Lock()

    def __serve_build_asgi_app__(self):
        from qa.api import create_api

        ready = threading.Event()
        ready.set()  # the models loaded in __init__, before Ray routes anything here
        return create_api(self.live.current, ready)

    def _view(self, documents: list[Document]) -> Assistant:
        """The shared assistant, or one with a visitor's documents added in memory (kept for their next turn)."""
        shared = self.live.current()
        with self._lock:
            if self._sessions is None or self._sessions[0] is not shared:
                self._sessions = (shared, Sessions(shared, Limits()))
            sessions = self._sessions[1]
        return sessions.assistant(documents)

    def answer(self, question: str, history: list[tuple[str, str]], documents: list[Document]) -> Answer | str:
        """The answer, or the message of a question that cannot be asked (a string, so no traceback travels)."""
        try:
            return self._view(documents).ask(question, history)
        except QuestionError as e:
            return str(e)

    def snapshot(self) -> tuple[str | None, list[Document], dict[str, int]]:
        index = self.live.current().index
        return index.version, list(index.documents.values()), index.chunk_counts()

    def add_documents(self, documents: list[Document]) -> str | None:
        """An operator's change of the shared documents, written to the shared folder; the other replicas read
        it at their next check."""
        a = self.live.current()
        a.add_documents(documents)
        return a.index.version


def application(index_dir: str | Path, settings: ScaleSettings = ScaleSettings()):
    return QAReplica.options(**settings.deployment_options()).bind(str(Path(index_dir).resolve()))


def app(args: dict):
    """Builder for `serve run` / `serve deploy` with a config file (serve-config.yaml): args are index_dir and
    any ScaleSettings field."""
    from qa.settings import Settings

    args = dict(args or {})
    index_dir = args.pop("index_dir", None) or Settings.load().index_dir
    return application(index_dir, ScaleSettings(**args))


def start(address: str | None, index_dir: str | Path, settings: ScaleSettings, host: str = "127.0.0.1",
          port: int = 8000):
    """Join (or start) the Ray cluster, run the deployment behind Ray's HTTP proxy, and return its handle once
    every replica has loaded its models."""
    import ray

    ray.init(address=None if address in (None, "local") else address, include_dashboard=False,
             ignore_reinit_error=True, log_to_driver=False)
    serve.start(http_options={"host": host, "port": port})
    return serve.run(application(index_dir, settings), name=APP_NAME, route_prefix="/")


class _Reader:
    name = "ray"


class RemoteIndex:
    """What the web chat shows of the deployment's shared documents."""

    def __init__(self, version: str | None, documents: list[Document], chunks: dict[str, int]):
        self.version = version
        self.documents = {d.id: d for d in documents}
        self.manifest = {"documents": {d.id: d.sha256 for d in documents}}
        self._chunks = chunks

    def chunk_counts(self) -> dict[str, int]:
        return dict(self._chunks)


class RemoteAssistant:
    """The assistant as the web front end uses it, answered by the Ray deployment's replicas. A session's
    own documents travel with each of its questions; the replicas keep them in memory only."""

    reader = _Reader()

    def __init__(self, handle, documents: tuple[Document, ...] = (), snapshot_ttl_s: float = 1.0):
        self.handle = handle
        self.documents = tuple(documents)
        self.ttl = snapshot_ttl_s
        self._snapshot: tuple[float, RemoteIndex] | None = None

    def warm_up(self) -> None:
        self.index  # noqa: B018  (waits until a replica answers)

    @property
    def index(self) -> RemoteIndex:
        if self._snapshot is None or time.monotonic() - self._snapshot[0] > self.ttl:
            self._snapshot = (time.monotonic(), RemoteIndex(*self.handle.snapshot.remote().result()))
        return self._snapshot[1]

    def with_documents(self, documents: list[Document]) -> "RemoteAssistant":
        return RemoteAssistant(self.handle, tuple(documents), self.ttl)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        got = self.handle.answer.remote(question, list(history or []), list(self.documents)).result()
        if isinstance(got, str):
            raise QuestionError(got)
        return got

    def add_documents(self, documents: list[Document]) -> None:
        self.handle.add_documents.remote(documents).result()
        self._snapshot = None


def bench(replicas: int = 2, clients: int = 8, per_client: int = 10, port: int = 8000) -> list[dict]:
    """`qa bench --ray`: throughput and latency over HTTP with 1, then `replicas` replicas, in one run on a local
    cluster over a fresh index of the shipped article."""
    import statistics
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    import ray

    from qa.assistant import default_documents
    from qa.bench import DEV
    from qa.evaluate import load_question_set
    from qa.metrics import percentile

    questions = [t.question for c in load_question_set(DEV).conversations for t in c]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        Assistant.load(index_dir=tmp, documents=default_documents())
        try:
            for n in sorted({1, replicas}):
                start("local", tmp, ScaleSettings(replicas=n), port=port)
                url = f"http://127.0.0.1:{port}/api/ask"

                def client(k: int) -> list[float]:
                    times = []
                    with httpx.Client(timeout=120) as c:
                        for i in range(per_client):
                            t0 = time.perf_counter()
                            c.post(url, json={"question": questions[(k * per_client + i) % len(questions)]}
                                   ).raise_for_status()
                            times.append(time.perf_counter() - t0)
                    return times

                client(0)  # every replica is warm before the clock starts
                t0 = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    times = [t for ts in pool.map(client, range(clients)) for t in ts]
                elapsed = time.perf_counter() - t0
                rows.append({"replicas": n, "questions": len(times), "questions_per_s": len(times) / elapsed,
                             "p50_s": statistics.median(times), "p95_s": percentile(times, 0.95)})
        finally:
            serve.shutdown()
            ray.shutdown()
    return rows
