"""`qa train-selector`: fit the answer-sentence selector on SQuAD and report it on held-out articles.

Data: paragraphs of SQuAD v1.1 train (a seeded sample) and SQuAD 2.0 dev half A, split by article into
five folds. The shipped model trains on v1.1 and folds 0-3 of half A (their unanswerable questions
included) and is reported on fold 4; the same fit is also cross-validated over all five folds. A share of
the training questions is rewritten the way people type in a chat (lower case, no question mark, dropped
function words, a misspelt word), so casual wording is learned rather than listed.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from qa.augment import FOLDS, casual, fold_of
from qa.chunking import sentences as split_sentences
from qa.selector import features


def _first_sentence(context: str) -> str:
    spans = split_sentences(context)
    return context[spans[0][0]:spans[0][1]] if spans else ""


def examples(path: Path, max_paragraphs: int, rng: random.Random, casual_rate: float, fold: bool,
             leads: int = 0):
    """(group key, question, candidate sentences, index of the answer sentence or -1, fold or -1).

    The candidates are the paragraph's sentences and, with `leads`, the opening sentences of the article and of
    `leads - 1` other paragraphs of it: the chat ranks sentences of several passages at once, and a story's lead
    names everything a question about it names (a news lead won "why" questions it does not answer)."""
    data = json.loads(path.read_text())["data"]
    paras = [(a["title"], p) for a in data for p in a["paragraphs"]]
    openings = {a["title"]: [_first_sentence(p["context"]) for p in a["paragraphs"]] for a in data} if leads else {}
    if max_paragraphs and len(paras) > max_paragraphs:
        paras = rng.sample(paras, max_paragraphs)
    out = []
    for title, p in paras:
        ctx = p["context"]
        spans = split_sentences(ctx)
        if len(spans) < 2:
            continue
        sents = [ctx[s:e] for s, e in spans]
        if leads:
            others = [o for o in openings[title][1:] if o and o not in sents]
            first = openings[title][0]
            sents += [first] if first and first not in sents else []
            sents += rng.sample(others, min(leads - 1, len(others)))
        for qa in p["qas"]:
            q = qa["question"].strip()
            if rng.random() < casual_rate:
                q = casual(q, rng)
            gold = -1
            if not qa.get("is_impossible") and qa.get("answers"):
                a0 = qa["answers"][0]["answer_start"]
                gold = next((i for i, (s, e) in enumerate(spans) if s <= a0 < e), -1)
                if gold < 0:
                    continue
            out.append((qa["id"], q, sents, gold, fold_of(title) if fold else -1))
    return out


def _embed(embedder, texts: list[str]) -> dict[str, np.ndarray]:
    unique = list(dict.fromkeys(texts))
    vecs = embedder.encode(unique)
    return dict(zip(unique, vecs))


def _matrix(exs, vec):
    X, y, group = [], [], []
    for g, (_, q, sents, gold, _f) in enumerate(exs):
        X.append(features(vec[q], np.stack([vec[s] for s in sents]), q, sents))
        y += [int(i == gold) for i in range(len(sents))]
        group += [g] * len(sents)
    return np.vstack(X), np.array(y), np.array(group)


def _fit(X, y, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000).fit(X, y)


def _report(model, exs, X, group, cos_col: int) -> dict:
    """P@1 of the answer sentence (answerable), and how well the best sentence's probability tells
    answerable from unanswerable questions (AUROC), for the model and for cosine alone."""
    from sklearn.metrics import roc_auc_score

    p = model.predict_proba(X)[:, 1]
    cos = X[:, cos_col]
    hit, hit_cos, best, best_cos, has = [], [], [], [], []
    for g, (_, _, _, gold, _) in enumerate(exs):
        rows = np.where(group == g)[0]
        best.append(p[rows].max())
        best_cos.append(cos[rows].max())
        has.append(gold >= 0)
        if gold >= 0:
            hit.append(int(np.argmax(p[rows]) == gold))
            hit_cos.append(int(np.argmax(cos[rows]) == gold))
    out = {"questions": len(exs), "answerable": int(sum(has)),
           "p_at_1": float(np.mean(hit)), "p_at_1_cosine": float(np.mean(hit_cos))}
    if 0 < sum(has) < len(has):
        out["auroc_answerable"] = float(roc_auc_score(has, best))
        out["auroc_answerable_cosine"] = float(roc_auc_score(has, best_cos))
    return out


def train(squad_dir: Path, out: Path, paragraphs: int = 4000, casual_rate: float = 0.3, c: float = 0.5,
          seed: int = 7, leads: int = 2, log=print) -> dict:
    from qa.index import Embedder
    from qa.models import read_models_file, resolve
    from qa.settings import Settings

    rng = random.Random(seed)
    t0 = time.time()
    v11 = examples(squad_dir / "train-v1.1.json", paragraphs, rng, casual_rate, fold=False, leads=leads)
    half_a = examples(squad_dir / "dev-v2.0-half-a.json", 0, rng, casual_rate, fold=True, leads=leads)
    # held-out questions always meet the leads, so models trained with and without them are compared as used
    half_a_plain = examples(squad_dir / "dev-v2.0-half-a.json", 0, random.Random(seed), 0.0, fold=True, leads=2)
    emb = read_models_file(Settings.load().models_file)["embedder"]
    embedder = Embedder(emb.model, resolve(emb), onnx_query=False)
    texts = [t for ex in v11 + half_a + half_a_plain for t in (ex[1], *ex[2])]
    log(f"{len(v11)} v1.1 + {len(half_a)} half-A questions; embedding {len(set(texts)):,} texts…")
    vec = _embed(embedder, texts)
    log(f"embedded in {time.time() - t0:.0f} s")
    Xv, yv, _ = _matrix(v11, vec)
    cos_col = len(next(iter(vec.values())))  # after the elementwise product
    cv = []
    for k in range(FOLDS):  # train on v1.1 + the other folds (casual variants included), test on fold k as asked
        train_a = [e for e in half_a if e[4] != k]
        test_a = [e for e in half_a_plain if e[4] == k]
        Xa, ya, _ = _matrix(train_a, vec)
        model = _fit(np.vstack([Xv, Xa]), np.concatenate([yv, ya]), c)
        Xt, _, gt = _matrix(test_a, vec)
        cv.append(_report(model, test_a, Xt, gt, cos_col))
        log(f"fold {k}: {cv[-1]}")
    shipped = FOLDS - 1
    train_a = [e for e in half_a if e[4] != shipped]
    Xa, ya, _ = _matrix(train_a, vec)
    model = _fit(np.vstack([Xv, Xa]), np.concatenate([yv, ya]), c)
    mean = {k: float(np.mean([r[k] for r in cv])) for k in cv[0] if k not in ("questions", "answerable")}
    metrics = {"held_out_fold": shipped, "held_out": cv[shipped], "cross_validated_mean": mean, "folds": cv,
               "config": {"v11_paragraphs": paragraphs, "casual_rate": casual_rate, "C": c, "seed": seed,
                          "leads": leads,
                          "features": int(Xv.shape[1]), "train_rows": int(len(yv) + len(ya))},
               "seconds": round(time.time() - t0)}
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "selector.npz", coef=model.coef_[0].astype("float32"), intercept=np.float32(model.intercept_[0]))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
