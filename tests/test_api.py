"""The HTTP API on a real uvicorn server: JSON answers with httpx, the OpenAI format with the `openai` package."""
import threading

import httpx
import pytest

from qa.web import create_app

from conftest import article_assistant, serve_app

pytestmark = pytest.mark.slow
TRADE = "How large was trade between Russia and China last year?"


@pytest.fixture(scope="module")
def api(assistant, tmp_path_factory):
    ready = threading.Event()
    url, handle = serve_app(create_app(article_assistant(assistant, tmp_path_factory.mktemp("api")), ready=ready))
    yield url.rstrip("/"), ready
    handle.close()


def test_ask_returns_the_answer_as_json(api):
    url, _ = api
    r = httpx.post(f"{url}/api/ask", json={"question": TRADE}, timeout=60)
    assert r.status_code == 200
    ans = r.json()
    assert ans["text"] == "$240 billion" and ans["kind"] == "span" and not ans["abstained"]
    src = ans["sources"][0]
    assert src["doc_id"] == "article" and src["highlighted"] == "$240 billion"
    assert src["start"] <= src["answer_start"] < src["answer_end"] <= src["end"]
    follow = httpx.post(f"{url}/api/ask", json={"question": "What is it sometimes called?", "history": [
        ["What is the capital of Heilongjiang province?", "Harbin"]]}, timeout=60).json()
    assert "Little Moscow" in follow["text"]


@pytest.mark.parametrize("body,message", [
    ({"question": ""}, "Please type a question"),
    ({"question": "x" * 100_000}, "too long"),
    ({"q": "no question field"}, "question"),
    ({"question": "Why?", "history": "not a list"}, "history"),
])
def test_bad_requests_get_json_errors(api, body, message):
    r = httpx.post(f"{api[0]}/api/ask", json=body, timeout=60)
    assert r.status_code == 422 and message in r.json()["error"]["message"]
    assert "Traceback" not in r.text


def test_malformed_json_is_a_clear_4xx(api):
    r = httpx.post(f"{api[0]}/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "invalid request" in r.json()["error"]["message"]


def test_documents_health_models_and_docs(api):
    url, ready = api
    assert httpx.get(f"{url}/api/health").status_code == 503  # models not declared ready yet
    ready.set()
    assert httpx.get(f"{url}/api/health").json()["status"] == "ready"
    docs = httpx.get(f"{url}/api/documents").json()
    assert docs[0]["id"] == "article" and docs[0]["chunks"] > 5
    assert httpx.get(f"{url}/v1/models").json()["data"][0]["id"] == "qa-article"
    assert "/api/ask" in httpx.get(f"{url}/openapi.json").json()["paths"]
    assert httpx.get(f"{url}/docs").status_code == 200
    assert "Ask the article" in httpx.get(f"{url}/").text  # the chat is on the same server


def test_openai_client_asks_streams_and_follows_up(api):
    from openai import OpenAI

    client = OpenAI(base_url=f"{api[0]}/v1", api_key="none", max_retries=0)
    done = client.chat.completions.create(model="qa-article", messages=[{"role": "user", "content": TRADE}],
                                          temperature=0.2)
    text = done.choices[0].message.content
    assert text.startswith("$240 billion") and "Source: " in text and done.choices[0].finish_reason == "stop"
    assert done.model_extra["qa"]["sources"][0]["highlighted"] == "$240 billion"
    stream = client.chat.completions.create(model="qa-article", messages=[{"role": "user", "content": TRADE}],
                                            stream=True)
    pieces = [c.choices[0].delta.content or "" for c in stream]
    assert "".join(pieces) == text and len(pieces) > 3
    follow = client.chat.completions.create(model="qa-article", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the capital of Heilongjiang province?"},
        {"role": "assistant", "content": "Harbin"},
        {"role": "user", "content": "What is it sometimes called?"}])
    assert "Little Moscow" in follow.choices[0].message.content


def test_openai_errors_are_raised_as_the_client_expects(api):
    import openai
    from openai import OpenAI

    client = OpenAI(base_url=f"{api[0]}/v1", api_key="none", max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError, match="last message must be the user"):
        client.chat.completions.create(model="qa-article", messages=[{"role": "assistant", "content": "hi"}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="qa-article", messages=[{"role": "user", "content": "hi"}], n=3)


def test_auth_guards_the_api_too(assistant, tmp_path):
    from openai import AuthenticationError, OpenAI

    url, handle = serve_app(create_app(article_assistant(assistant, tmp_path), auth=("ed", "pa55word")))
    try:
        url = url.rstrip("/")
        assert httpx.post(f"{url}/api/ask", json={"question": TRADE}).status_code == 401
        assert httpx.post(f"{url}/api/ask", json={"question": TRADE}, auth=("ed", "pa55word")).status_code == 200
        with pytest.raises(AuthenticationError):
            OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()
        assert OpenAI(base_url=f"{url}/v1", api_key="pa55word", max_retries=0).models.list().data[0].id
    finally:
        handle.close()
