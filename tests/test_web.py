"""A real Gradio server on loopback, driven by gradio_client and by headless Chromium."""
import concurrent.futures
import shutil
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from qa import Assistant
from qa.assistant import default_documents
from qa.index import Index
from qa.web import CSS, build, render

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(assistant, tmp_path_factory):
    """The app on its own index (uploads change it), sharing the session's loaded models."""
    settings = replace(assistant.settings, index_dir=str(tmp_path_factory.mktemp("web") / "index"))
    index = Index.build(default_documents(), assistant.embedder, settings.chunk_words, settings.chunk_overlap)
    index.save(settings.index_dir)
    app_assistant = Assistant(settings, index, assistant.embedder, assistant.reader, assistant.picker.selector)
    demo = build(app_assistant)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=CSS, quiet=True)
    yield f"http://127.0.0.1:{port}/", app_assistant
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


def test_upload_adds_a_document_and_rejects_bad_files(client, server, tmp_path):
    from gradio_client import handle_file

    _, app_assistant = server
    before = set(app_assistant.index.documents)
    bad = tmp_path / "broken.txt"
    bad.write_bytes(b"\x00\x01\x02\x03 binary")
    status, _ = client.predict(handle_file(str(bad)), api_name="/upload")
    assert "Not added" in status and set(app_assistant.index.documents) == before
    good = tmp_path / "lake.md"
    good.write_text("# Lake Baikal report\n\nLake Baikal in Siberia is the deepest lake in the world, "
                    "reaching 1,642 metres. It holds about a fifth of the world's fresh surface water.\n")
    status, docs = client.predict(handle_file(str(good)), api_name="/upload")
    assert "Added" in status and "Lake Baikal report" in docs
    assert "lake" in app_assistant.index.documents
    reply = client.predict("How deep is Lake Baikal?", api_name="/chat")
    assert "1,642 metres" in reply


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
