"""Faults survived: a crash while indexing, a save cut off between its renames."""
import os
import signal
import subprocess
import sys

import pytest

from qa.index import Index

pytestmark = pytest.mark.slow
EMB = "sentence-transformers/all-MiniLM-L6-v2"

# Runs `qa index` on a second document, but stalls right after writing the new vectors.
STALLED_INDEX = """
import sys, time, faiss
real = faiss.write_index
def slow(*args):
    real(*args)
    print("writing", flush=True)
    time.sleep(120)
faiss.write_index = slow
sys.argv = ["qa", "index", sys.argv[1], "--index", sys.argv[2]]
from qa.cli import main
main()
"""


def test_kill_during_indexing_keeps_the_previous_index(tmp_path):
    idx = tmp_path / "index"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "qa.cli", "index", "--index", str(idx)], check=True, env=env,
                   capture_output=True, timeout=300)
    before = Index.load(idx, EMB, 80, 1)
    other = tmp_path / "other.txt"
    other.write_text("The harbour of Valletta was rebuilt in 1565 after the Great Siege of Malta.\n")
    proc = subprocess.Popen([sys.executable, "-c", STALLED_INDEX, str(other), str(idx)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    after = Index.load(idx, EMB, 80, 1)
    assert set(after.documents) == set(before.documents) == {"article"}
    assert after.manifest["files"] == before.manifest["files"]
    # the leftover temporary folder does not stop the next write
    r = subprocess.run([sys.executable, "-m", "qa.cli", "index", str(other), "--index", str(idx)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert set(Index.load(idx, EMB, 80, 1).documents) == {"other"}


def test_save_cut_between_renames_is_recovered(tmp_path, assistant):
    idx = tmp_path / "index"
    Index.build(list(assistant.index.documents.values()), assistant.embedder, 80, 1).save(idx)
    idx.rename(tmp_path / ".index.old")  # the state right after the first rename of a save
    recovered = Index.load(idx, EMB, 80, 1)
    assert "article" in recovered.documents and idx.exists()
