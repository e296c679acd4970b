"""The web chat (Gradio): cited, highlighted answers; uploads; a `/chat` API for gradio_client."""
from __future__ import annotations

import hmac
import html
import os
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.answer import SUMMARY, Answer
from qa.assistant import Assistant, QuestionError
from qa.document import Document, DocumentError
from qa.index import Index
from qa.sessions import Limits, Sessions, uploaded

EXAMPLES = [
    "How large was trade between Russia and China last year?",
    "Which city did Putin visit on the second day of his trip to China?",
    "Which news agency reported that Putin thanked Xi?",
    "What is the population of Harbin?",
    "Why did Putin go to China?",
    "Did Putin visit Beijing?",
    "summarize the article",
    "whats the trade between russia n china worth",
]
CSS = """
.qa-answer{font-size:1.1em;font-weight:600;color:#0b6b3a;margin:0}
.qa-refusal{font-size:1.1em;font-weight:600;color:#8a5a00;margin:0}
.qa-meta{color:#666;font-size:.85em;margin:.2em 0}
.qa-source{border-left:3px solid #bbb;padding-left:.6em;margin:.4em 0;color:#333}
.qa-source mark{background:#ffe066;padding:0 .1em}
.qa-sentence,.qa-evidence{font-weight:400;color:#123}
.qa-answer mark{background:#c8f0d4;font-weight:600;padding:0 .1em}
.qa-summary{margin:.2em 0 .2em 1.2em;padding:0}
.qa-summary li{margin:.25em 0}
"""
def _marked(text: str, span: tuple[int, int] | None) -> str:
    e = html.escape
    if not span:
        return e(text)
    s, t = span
    return f"{e(text[:s])}<mark>{e(text[s:t])}</mark>{e(text[t:])}"


def render(ans: Answer) -> str:
    """HTML for one answer, in its shape. Every piece of text is escaped: documents and questions are data."""
    e = html.escape
    parts = []
    if ans.kind == SUMMARY:
        several = len({src.doc_id for src in ans.sources}) > 1
        parts.append(f'<p class="qa-meta">{"An overview of the documents" if several else "Summary of the article"}, '
                     'sentence by sentence:</p><ul class="qa-summary">')
        for src in ans.sources:
            parts.append(f'<li>{e(src.text)} <span class="qa-meta">[{e(src.title)}, characters '
                         f'{src.start}–{src.end}]</span></li>')
        parts.append("</ul>")
        return "".join(parts).replace("\n", " ")
    if ans.abstained:
        parts.append(f'<p class="qa-refusal">{e(ans.text)}</p>')
        parts.append(f'<p class="qa-meta">confidence {ans.score:.2f} · below the threshold, so no answer is given</p>')
    else:
        parts.append(f'<p class="qa-answer qa-{ans.kind}">{_marked(ans.text, ans.highlight)}</p>')
        parts.append(f'<p class="qa-meta">confidence {ans.score:.2f}</p>')
    shown = [ans.cited] if ans.cited else ans.sources[:1]
    for src in shown:
        label = "Source" if src.answer_start is not None else "Closest passage"
        parts.append(f'<p class="qa-meta">{label}: {e(src.title)} ({e(src.doc_id)}), '
                     f'characters {src.start}–{src.end}</p>')
        parts.append(f'<blockquote class="qa-source">{_marked(src.text, src.span)}</blockquote>')
    # one HTML block with no blank lines, so the chat's markdown renderer leaves it as it is
    return "".join(parts).replace("\n", "<br>")


def documents_markdown(shared: Assistant, own: list[Document] = ()) -> str:
    def row(d: Document) -> str:
        return f"- **{html.escape(d.title)}** ({html.escape(d.id)}, {len(d.text.split()):,} words)"

    text = "### Indexed documents\n" + "\n".join(row(d) for d in shared.index.documents.values())
    if own:
        text += "\n\n### Your documents (only you see them)\n" + "\n".join(row(d) for d in own)
    return text


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """'user:password' -> (user, password) for Gradio's login; None -> no login."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth takes USER:PASSWORD, both non-empty")
    return user, password


def operator_token_matches(token: str) -> bool:
    """True only when the server has an operator token (QA_ADMIN_TOKEN) and `token` is it."""
    expected = os.environ.get("QA_ADMIN_TOKEN", "")
    return bool(expected) and hmac.compare_digest(expected.encode(), (token or "").encode())


def build(assistant: Assistant, limits: Limits = Limits()):
    import gradio as gr

    sessions = Sessions(assistant, limits)

    def panel(own: list) -> str:
        return documents_markdown(assistant, own)

    def answer(message: str, pairs: list[tuple[str, str]], own: list[Document]) -> tuple[str, Answer | None]:
        """(rendered reply, the Answer or None when the question was unusable)."""
        try:
            ans = sessions.assistant(own).ask(message, pairs)
        except QuestionError as err:
            return f'<p class="qa-refusal">{html.escape(str(err))}</p>', None
        return render(ans), ans

    def respond(message: str, chat: list, pairs: list, own: list):
        reply, ans = answer(message, pairs, own)
        shown = html.escape(message if len(message) <= 2000 else message[:2000] + "…")
        chat = [*chat, {"role": "user", "content": shown}, {"role": "assistant", "content": reply}]
        if ans is not None:
            pairs = [*pairs, (ans.question, "" if ans.abstained else ans.text)]
        return "", chat, pairs

    def api_chat(message: str) -> str:
        """One question, no history, the shared documents: the rendered answer with its source."""
        return answer(message, [], [])[0]

    def read_upload(path) -> tuple[bytes, str]:
        p = Path(path)
        if p.stat().st_size > limits.file_megabytes * 1e6:
            raise DocumentError(f"{p.name}: larger than {limits.file_megabytes:g} MB")
        return p.read_bytes(), p.name

    def upload(path, own: list):
        """A visitor's upload: kept in this session only."""
        if not path:
            return "Choose a .txt, .md, .html or .pdf file.", panel(own), own
        try:
            doc, own = sessions.add(own, *read_upload(path))
            sessions.assistant(own)  # embed it now, so the first question does not wait
        except DocumentError as err:
            return f"Not added: {html.escape(str(err))}. Your documents are unchanged.", panel(own), own
        return (f"Added **{html.escape(doc.title)}** ({len(doc.text.split()):,} words) for you only; ask about it "
                "now.", panel(own), own)

    def operator_upload(path, token: str) -> str:
        """Adds a document to the shared index, for everyone and on disk; needs the operator token."""
        if not operator_token_matches(token):
            return ("Refused: adding a shared document needs the operator token (QA_ADMIN_TOKEN), and this "
                    "request does not carry it. Nothing was changed.")
        if not path:
            return "Choose a .txt, .md, .html or .pdf file."
        try:
            doc = uploaded(*read_upload(path), taken=assistant.index.documents)
            assistant.add_documents([doc])
        except DocumentError as err:
            return f"Not added: {html.escape(str(err))}. The shared index is unchanged."
        return f"Added {doc.id} for everyone."

    with gr.Blocks(title="Ask the article") as demo:
        gr.Markdown("## Ask the article\nAnswers are quoted from the indexed articles, with the source "
                    "passage and the answer highlighted. When the articles do not say, the assistant says so.")
        pairs = gr.State([])  # this browser session's (question, answer) turns
        own = gr.State([], time_to_live=limits.idle_seconds)  # this session's uploaded documents
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(height=520, label="Chat", elem_id="chat")
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question about the article…", max_lines=4, show_label=False,
                                     elem_id="question", scale=5)
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    clear = gr.Button("Clear", scale=1, elem_id="clear")
                gr.Examples(EXAMPLES, inputs=box, label="Examples")
            with gr.Column(scale=1):
                docs = gr.Markdown(documents_markdown(assistant), elem_id="documents")
                file = gr.File(label="Add a document (.txt, .md, .html, .pdf)",
                               file_types=[".txt", ".md", ".html", ".htm", ".pdf"], type="filepath", elem_id="upload")
                gr.Markdown(limits.describe(), elem_id="upload-limits")
                status = gr.Markdown(elem_id="upload-status")
                with gr.Accordion("Operator: add a shared document", open=False):
                    op_file = gr.File(label="Document for everyone", file_types=[".txt", ".md", ".html", ".htm", ".pdf"],
                                      type="filepath", elem_id="operator-file")
                    op_token = gr.Textbox(label="Operator token (QA_ADMIN_TOKEN)", type="password", max_lines=1)
                    op_add = gr.Button("Add for everyone")
                    op_status = gr.Markdown(elem_id="operator-status")
        for trigger in (box.submit, send.click):
            trigger(respond, [box, chat, pairs, own], [box, chat, pairs], api_visibility="private",
                    concurrency_limit=4)
        clear.click(lambda: ("", [], []), None, [box, chat, pairs], api_visibility="private")
        file.upload(upload, [file, own], [status, docs, own], api_name="upload", concurrency_limit=2)
        demo.load(panel, own, docs, api_visibility="private")
        gr.api(api_chat, api_name="chat", concurrency_limit=4)
        op_add.click(operator_upload, [op_file, op_token], op_status, api_name="operator_upload",
                     concurrency_limit=1).then(panel, own, docs, api_visibility="private")
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo


def create_app(assistant: Assistant, limits: Limits = Limits(), auth: tuple[str, str] | None = None,
               ready: threading.Event | None = None):
    """One FastAPI app: the JSON and OpenAI-format API (qa.api) with the web chat mounted at /."""
    import gradio as gr

    from qa.api import create_api, require_auth

    demo = build(assistant, limits)
    demo.state_session_capacity = limits.sessions
    api = create_api(assistant, ready)
    if auth:
        require_auth(api, *auth)
    return gr.mount_gradio_app(api, demo, path="/", css=CSS, theme=gr.themes.Soft(), auth=auth, show_error=False)


def serve(host: str = "127.0.0.1", port: int = 7860, index_dir=None, block: bool = True,
          auth: tuple[str, str] | None = None, scale: dict | None = None):
    """The chat and the API on one port. With `scale` (qa.scale.start's address, port and settings), this
    process is the front end only: the answering runs on a Ray Serve deployment."""
    import uvicorn

    if scale:
        from qa.scale import RemoteAssistant, start
        from qa.settings import Settings

        index_dir = index_dir or Settings.load().index_dir
        if Index.version(index_dir) is None:  # built once here, not by every replica at the same time
            Assistant.load(index_dir=index_dir)
        handle = start(scale["address"], index_dir, scale["settings"], host=host, port=scale["port"])
        print(f"Ray Serve API: http://{host}:{scale['port']}/api/ask", flush=True)
        assistant = RemoteAssistant(handle)
    else:
        assistant = Assistant.load(index_dir=index_dir)
    ready = threading.Event()
    server = uvicorn.Server(uvicorn.Config(create_app(assistant, Limits(), auth, ready), host=host, port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    if not server.started:
        raise SystemExit(f"could not listen on {host}:{port}")
    assistant.warm_up()  # /api/health says "loading" until here
    ready.set()
    print(f"ready: http://{host}:{port}", flush=True)
    if block:
        thread.join()
    return server
