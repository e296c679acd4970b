"""A real Gradio server on loopback, driven by gradio_client and by headless Chromium."""
import concurrent.futures
import shutil
from pathlib import Path

import pytest

from qa import Assistant
from qa.web import create_app, render

from conftest import article_assistant, serve_app

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _start(assistant, directory):
    """The app on its own index in `directory`, sharing the session's loaded models."""
    app_assistant = article_assistant(assistant, directory)
    return (*serve_app(create_app(app_assistant)), app_assistant)


@pytest.fixture(scope="module")
def server(assistant, tmp_path_factory):
    url, demo, app_assistant = _start(assistant, tmp_path_factory.mktemp("web"))
    yield url, app_assistant
    demo.close()


@pytest.fixture()
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)


def test_render_escapes_markup_and_marks_the_span(assistant):
    ans = assistant.ask("Which broadcaster showed footage of the two leaders?")
    ans.sources[0].title = "<img src=x onerror=alert(1)>"
    out = render(ans)
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert f"<mark>{ans.text}</mark>" in out and "\n" not in out


def test_api_answers_with_its_source(client):
    reply = client.predict("Which broadcaster showed footage of the two leaders?", api_name="/chat")
    assert "<mark>CCTV</mark>" in reply and "qa-answer" in reply and "characters" in reply


@pytest.mark.parametrize("bad,message", [("", "Please type a question"), ("x" * 100_000, "too long")])
def test_api_bad_questions_get_clear_messages(client, bad, message):
    reply = client.predict(bad, api_name="/chat")
    assert message in reply and "Traceback" not in reply


def test_api_refuses_markup_execution(client):
    reply = client.predict("<script>alert(1)</script> What is the population of Harbin?", api_name="/chat")
    assert "<script>" not in reply


def test_concurrent_clients(server):
    """8 clients x 25 questions on loopback: no errors, and every reply is the right one."""
    from gradio_client import Client

    expected = {
        "Which broadcaster showed footage of the two leaders?": "<mark>CCTV</mark>",
        "Which news agency reported that Putin thanked Xi?": "Xinhua</mark>",
        "How large was trade between Russia and China last year?": "<mark>$240 billion</mark>",
        "What is the population of Harbin?": "The article does not say.",
    }
    questions = list(expected)

    def one_client(k):
        c = Client(server[0], verbose=False)
        return [(q, c.predict(q, api_name="/chat")) for q in (questions[(k + i) % 4] for i in range(25))]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = [r for rs in pool.map(one_client, range(8), timeout=900) for r in rs]
    assert len(replies) == 200
    wrong = [(q, r[:80]) for q, r in replies if expected[q] not in r]
    assert not wrong


LAKE = ("# Lake Baikal report\n\nLake Baikal in Siberia is the deepest lake in the world, "
        "reaching 1,642 metres. It holds about a fifth of the world's fresh surface water.\n")


def _files(directory) -> dict:
    return {p.name: p.read_bytes() for p in Path(directory).iterdir()}


def test_upload_is_private_and_rejects_bad_files(client, server, tmp_path):
    from gradio_client import handle_file

    url, app_assistant = server
    before, on_disk = set(app_assistant.index.documents), _files(app_assistant.settings.index_dir)
    bad = tmp_path / "broken.txt"
    bad.write_bytes(b"\x00\x01\x02\x03 binary")
    status, _ = client.predict(handle_file(str(bad)), api_name="/upload")
    assert "Not added" in status and "binary" in status
    good = tmp_path / "lake.md"
    good.write_text(LAKE)
    status, docs = client.predict(handle_file(str(good)), api_name="/upload")
    assert "Added" in status and "for you only" in status and "Lake Baikal report" in docs
    assert "Your documents" in docs
    # nothing shared changed: not the index in memory, not its files, not other visitors' answers
    assert set(app_assistant.index.documents) == before and _files(app_assistant.settings.index_dir) == on_disk
    assert "The article does not say" in client.predict("How deep is Lake Baikal?", api_name="/chat")


def test_an_upload_named_like_a_shipped_document_replaces_nothing(server, tmp_path):
    from gradio_client import Client, handle_file

    url, app_assistant = server
    on_disk = _files(app_assistant.settings.index_dir)
    forged = tmp_path / "article.txt"
    forged.write_text("Trade between Russia and China last year was worth exactly one dollar.")
    status, _ = Client(url, verbose=False).predict(handle_file(str(forged)), api_name="/upload")
    assert "Added" in status
    reply = Client(url, verbose=False).predict("How large was trade between Russia and China last year?",
                                               api_name="/chat")
    assert "<mark>$240 billion</mark>" in reply and "one dollar" not in reply
    assert _files(app_assistant.settings.index_dir) == on_disk
    assert app_assistant.index.documents["article"].text.startswith("Putin hails")


def test_session_limits_keep_earlier_documents_and_memory_bounded(assistant):
    """A session past its cap gets the message and keeps what it had; 201 uploads over 67 sessions leave at most
    `cached_views` assistants in memory."""
    from qa.document import DocumentError
    from qa.sessions import Limits, Sessions

    sessions = Sessions(assistant, Limits(documents=3, cached_views=4))
    own = []
    for k in range(3):
        _, own = sessions.add(own, f"Report {k}: the harbour of Town{k} is {k + 3} metres deep.".encode(), f"r{k}.txt")
    with pytest.raises(DocumentError, match="limit"):
        sessions.add(own, b"One document too many for this session, it says.", "r9.txt")
    assert len(own) == 3
    with pytest.raises(DocumentError, match="already indexed"):
        sessions.add(own[:2], own[1].text.encode(), "again.txt")
    ans = sessions.assistant(own).ask("How deep is the harbour of Town2?")
    assert "5 metres" in ans.text and ans.cited.doc_id == own[2].id
    assert "Town2" not in str(assistant.ask("How deep is the harbour of Town2?").sources)
    for n in range(67):
        docs = []
        for k in range(3):
            _, docs = sessions.add(docs, f"Visitor {n} wrote note {k} about the lake level rising.".encode(), "n.txt")
            sessions.assistant(docs)
    assert len(sessions._views) <= 4


def test_uploads_during_questions_never_leak(server, tmp_path):
    """8 clients ask while 4 sessions upload: no errors, and every answer cites only the shared documents."""
    from gradio_client import Client, handle_file

    url, app_assistant = server
    shared = set(app_assistant.index.documents)
    files = []
    for k in range(4):
        f = tmp_path / f"secret{k}.txt"
        f.write_text(f"Secret memo {k}: trade between Russia and China last year was worth {k + 2} dollars.")
        files.append(f)

    def asker(k):
        c = Client(url, verbose=False)
        return [c.predict("How large was trade between Russia and China last year?", api_name="/chat")
                for _ in range(5)]

    def uploader(k):
        c = Client(url, verbose=False)
        return c.predict(handle_file(str(files[k])), api_name="/upload")[0]

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        asks = [pool.submit(asker, k) for k in range(8)]
        ups = [pool.submit(uploader, k) for k in range(4)]
        replies = [r for f in asks for r in f.result(timeout=600)]
        statuses = [f.result(timeout=600) for f in ups]
    assert all("Added" in s for s in statuses)
    assert len(replies) == 40 and all("<mark>$240 billion</mark>" in r for r in replies)
    assert not any("Secret memo" in r or "upload-" in r for r in replies)
    assert set(app_assistant.index.documents) == shared


def test_operator_token_guards_shared_documents(assistant, tmp_path, monkeypatch):
    """Without QA_ADMIN_TOKEN nothing is added; with it, the operator's upload reaches everyone and survives a
    restart; a wrong token is refused."""
    from gradio_client import Client, handle_file

    monkeypatch.delenv("QA_ADMIN_TOKEN", raising=False)
    url, demo, app_assistant = _start(assistant, tmp_path)
    try:
        lake = tmp_path / "lake.md"
        lake.write_text(LAKE)
        c = Client(url, verbose=False)
        assert "Refused" in c.predict(handle_file(str(lake)), "anything", api_name="/operator_upload")
        monkeypatch.setenv("QA_ADMIN_TOKEN", "s3cret-token")
        assert "Refused" in c.predict(handle_file(str(lake)), "wrong", api_name="/operator_upload")
        assert "Refused" in c.predict(handle_file(str(lake)), "", api_name="/operator_upload")
        assert "Lake Baikal" not in str(app_assistant.index.documents.values())
        assert "for everyone" in c.predict(handle_file(str(lake)), "s3cret-token", api_name="/operator_upload")
        assert "1,642 metres" in Client(url, verbose=False).predict("How deep is Lake Baikal?", api_name="/chat")
    finally:
        demo.close()
    restarted = Assistant.load(index_dir=app_assistant.settings.index_dir)
    assert any(d.title == "Lake Baikal report" for d in restarted.index.documents.values())


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (setup.sh --test installs it)")
def test_browser_chat(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    dialogs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server[0])
        box = page.locator("#question textarea")
        expect(page.locator("#documents")).to_contain_text("Putin hails Russia-China")

        box.fill("Which city did Putin visit on the second day of his trip to China?")
        box.press("Enter")
        expect(page.locator("#chat mark").first).to_have_text("Harbin", timeout=60_000)

        box.fill("What is it sometimes called?")
        box.press("Enter")
        expect(page.locator("#chat mark").nth(1)).to_contain_text("Little Moscow", timeout=60_000)

        box.fill("<script>alert('x')</script><img src=x onerror=alert('y')> Who is the mayor?")
        box.press("Enter")
        expect(page.locator("#chat .qa-refusal, #chat .qa-answer")).to_have_count(3, timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
        assert dialogs == []
        assert page.locator("#chat script").count() == 0
        expect(page.locator("#chat")).to_contain_text("<script>alert('x')</script><img src=x onerror=alert('y')>")

        page.locator("#clear").click()
        expect(page.locator("#chat .qa-refusal, #chat .qa-answer")).to_have_count(0)
        browser.close()


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (setup.sh --test installs it)")
def test_browser_shows_each_answer_shape(server):
    """A sentence answer with its key part marked, yes/no evidence, a summary as cited bullets, a casual follow-up."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(server[0])
        box = page.locator("#question textarea")

        box.fill("Why has Russia become so dependent on China?")
        box.press("Enter")
        expect(page.locator("#chat .qa-sentence")).to_have_count(1, timeout=60_000)
        expect(page.locator("#chat .qa-sentence")).to_contain_text("sanctions")
        expect(page.locator("#chat .qa-sentence mark")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "chat-sentence.png"))

        box.fill("did the west accept chinas peace plan")
        box.press("Enter")
        expect(page.locator("#chat .qa-evidence")).to_contain_text("The article says:", timeout=60_000)

        box.fill("tl;dr")
        box.press("Enter")
        expect(page.locator("#chat .qa-summary li").first).to_contain_text("Harbin", timeout=60_000)
        assert page.locator("#chat .qa-summary li").count() >= 2
        expect(page.locator("#chat .qa-summary li").first).to_contain_text("characters")
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "chat-summary.png"))

        box.fill("how much trade between russia n china last yr")
        box.press("Enter")
        expect(page.locator("#chat .qa-span")).to_have_text("$240 billion", timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "chat-shapes.png"), full_page=True)
        browser.close()


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (setup.sh --test installs it)")
def test_browser_uploads_stay_with_their_visitor(server, tmp_path):
    """Two browser contexts (two visitors): A's upload answers A's questions; B never sees it."""
    from playwright.sync_api import expect, sync_playwright

    lake = tmp_path / "baikal.md"
    lake.write_text(LAKE)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless", "--disable-gpu"])
        a, b = browser.new_context().new_page(), browser.new_context().new_page()
        for page in (a, b):
            page.goto(server[0])
            expect(page.locator("#upload-limits")).to_contain_text("private to this browser session")
        a.locator("#upload input[type=file]").set_input_files(str(lake))
        expect(a.locator("#upload-status")).to_contain_text("for you only", timeout=60_000)
        expect(a.locator("#documents")).to_contain_text("Lake Baikal report")
        for page in (a, b):
            page.locator("#question textarea").fill("How deep is Lake Baikal?")
            page.locator("#question textarea").press("Enter")
        expect(a.locator("#chat mark").last).to_contain_text("1,642 metres", timeout=60_000)
        expect(b.locator("#chat .qa-refusal")).to_have_count(1, timeout=60_000)
        expect(b.locator("#chat")).not_to_contain_text("1,642")
        expect(b.locator("#documents")).not_to_contain_text("Lake Baikal")
        ARTIFACTS.mkdir(exist_ok=True)
        a.screenshot(path=str(ARTIFACTS / "chat-private-upload.png"), full_page=True)
        b.reload()
        expect(b.locator("#documents")).not_to_contain_text("Lake Baikal")
        browser.close()
