"""`qa bench`: where the time goes, measured in one run (ratios are within this run)."""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from qa.metrics import percentile

DEV = Path(__file__).resolve().parent.parent / "tests" / "data" / "dev-squad2.json"
CHAT = DEV.with_name("dev-chat.json")


def _cold_start_s() -> float:
    """A fresh process: import, open the saved index, load the models, answer one question."""
    code = ("import time; t = time.perf_counter(); from qa import Assistant; "
            "Assistant.load().ask('Which broadcaster showed footage of the two leaders?'); "
            "print(time.perf_counter() - t)")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    inner = float(out.stdout.strip().splitlines()[-1])
    return max(inner, time.perf_counter() - t0)


def _concurrent(assistant, clients: int, per_client: int, questions: list[str]) -> tuple[float, int]:
    """N gradio_client clients against the real web server on loopback, each a bounded loop."""
    import socket

    from gradio_client import Client

    from qa.web import build

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build(assistant)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    errors, done = [], []

    def run(k):
        try:
            c = Client(f"http://127.0.0.1:{port}/", verbose=False)
            for i in range(per_client):
                reply = c.predict(questions[(k * per_client + i) % len(questions)], api_name="/chat")
                (done if "qa-answer" in reply or "qa-refusal" in reply else errors).append(1)
        except Exception:  # counted, not raised: the figure is the error count
            errors.append(1)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.perf_counter() - t0
    demo.close()
    return len(done) / elapsed, len(errors)


def _chat_latency(assistant, index_dir: Path) -> dict:
    """Latency of the chat dev set on its own documents, overall and per answer shape (summaries included)."""
    from qa.chat_eval import load_chat_set
    from qa.index import Index

    chat = load_chat_set(CHAT)
    s = assistant.settings
    index = Index.build(chat.documents, assistant.embedder, s.chunk_words, s.chunk_overlap)
    index.save(index_dir)
    a = assistant.with_index(index)
    times: dict[str, list[float]] = {}
    for item in chat.items:
        ans = a.ask(item.question, item.history)
        times.setdefault(ans.kind, []).append(ans.timings["total_s"])
    every = [t for ts in times.values() for t in ts]
    out = {"chat_p50_s": statistics.median(every), "chat_p95_s": percentile(every, 0.95)}
    out.update({f"chat_{kind}_p50_s": statistics.median(ts) for kind, ts in sorted(times.items())})
    return out


def _api_latency(assistant, questions: list[str]) -> dict:
    """The JSON API's latency beside the Python API's, on the same questions, interleaved, in this run."""
    import httpx
    import uvicorn

    from qa.web import create_app

    ready = threading.Event()
    ready.set()
    server = uvicorn.Server(uvicorn.Config(create_app(assistant, ready=ready), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    python, api = [], []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for q in questions:
            t0 = time.perf_counter()
            assistant.ask(q)
            python.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            client.post("/api/ask", json={"question": q}).raise_for_status()
            api.append(time.perf_counter() - t0)
    server.should_exit = True
    thread.join(timeout=30)
    return {"python_api_p50_s": statistics.median(python), "http_api_p50_s": statistics.median(api),
            "http_api_overhead_ms": 1000 * (statistics.median(api) - statistics.median(python))}


def _profile(assistant, questions: list[str], directory: Path) -> Path:
    """Where `ask` spends its time (pyinstrument), in a pass of its own so the timings above stay clean."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    assistant.embedder.clear_cache()
    with profiler:
        for q in questions:
            assistant.ask(q)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "profile.txt").write_text(profiler.output_text(unicode=True, color=False))
    (directory / "profile.html").write_text(profiler.output_html())
    return directory / "profile.txt"


def run(json_out: Path | None = None, clients: int = 8, per_client: int = 5, profile: Path | None = None) -> dict:
    from rich.console import Console
    from rich.table import Table

    from qa import Assistant
    from qa.assistant import default_documents
    from qa.evaluate import load_question_set
    from qa.index import Index

    console = Console()
    if profile:
        try:  # say so before the bench, not after it
            import pyinstrument  # noqa: F401
        except ImportError:
            raise SystemExit("--profile needs pyinstrument: pip install -e '.[test]'") from None
    questions = [t.question for c in load_question_set(DEV).conversations for t in c]
    figures: dict = {"cold_start_s": _cold_start_s()}
    with tempfile.TemporaryDirectory() as tmp:
        docs = default_documents()
        a = Assistant.load(index_dir=tmp, documents=docs)  # this first build also loads the embedder
        a.warm_up()
        t0 = time.perf_counter()  # so the timed build below is indexing alone
        Index.build(docs, a.embedder, a.settings.chunk_words, a.settings.chunk_overlap).save(tmp)
        figures["index_build_s"] = time.perf_counter() - t0
        totals, retrieval, rerank, reader, bare = [], [], [], [], []
        for q in questions:
            ans = a.ask(q)
            totals.append(ans.timings["total_s"])
            retrieval.append(ans.timings["retrieval_s"])
            rerank.append(ans.timings.get("rerank_s", 0.0))
            reader.append(ans.timings["reader_s"])
            texts = [p.chunk.headed for p in a.retrieve(q)]
            t1 = time.perf_counter()
            a.reader.read(q, texts)  # the bare model on the same passages, read as `ask` reads them
            bare.append(time.perf_counter() - t1)
        repeats = [a.ask(q).timings["total_s"] for q in questions[:20]]  # the query vector is cached now
        whole = docs[0].text
        whole_times = []
        for q in questions[:20]:
            t1 = time.perf_counter()
            a.reader.read(q, [whole])
            whole_times.append(time.perf_counter() - t1)
        figures.update(
            latency_p50_s=statistics.median(totals), latency_p95_s=percentile(totals, 0.95),
            retrieval_p50_s=statistics.median(retrieval), rerank_p50_s=statistics.median(rerank),
            reader_p50_s=statistics.median(reader),
            reader_only_p50_s=statistics.median(bare), whole_article_p50_s=statistics.median(whole_times),
            repeated_question_p50_s=statistics.median(repeats))
        figures["overhead_ratio"] = figures["latency_p50_s"] / figures["reader_only_p50_s"] - 1
        figures.update(_chat_latency(a, Path(tmp) / "chat"))
        figures.update(_api_latency(a, questions))  # the query-vector cache is warm for both
        a.embedder.clear_cache()  # throughput without the repeated-question cache
        figures["concurrent_qps"], figures["concurrent_errors"] = _concurrent(a, clients, per_client, questions)
        if profile:
            console.print(f"profile: {_profile(a, questions, Path(profile))}")
    figures["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.update(questions=len(questions), clients=clients, per_client=per_client, reader=a.reader.name)
    table = Table(title="qa bench")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k, v in figures.items():
        table.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
    console.print(table)
    if json_out:
        Path(json_out).write_text(json.dumps(figures, indent=2))
    return figures
