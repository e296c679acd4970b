"""The HTTP API (FastAPI): answers as JSON, and the OpenAI chat-completions format that chat clients speak.

Routes: POST /api/ask, GET /api/documents, GET /api/health, GET /v1/models, POST /v1/chat/completions
(with "stream": true as server-sent events). The web chat is mounted on the same app (qa.web.create_app), so one
process holds one copy of the models. Errors are JSON with a 4xx status and a message for the caller.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Callable, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from qa.answer import Answer
from qa.assistant import Assistant, QuestionError

MODEL_ID = "qa-article"


class AskRequest(BaseModel):
    question: str = Field(description="the question, as a person would type it")
    history: list[tuple[str, str]] = Field(default_factory=list, description="earlier [question, answer] turns")


class SourceOut(BaseModel):
    doc_id: str
    title: str
    text: str
    start: int  # character offsets of the passage in the cleaned document
    end: int
    score: float
    answer_start: int | None = None  # the cited span, in the same offsets
    answer_end: int | None = None
    highlighted: str | None = None  # the cited span's text


class AnswerOut(BaseModel):
    text: str
    kind: str  # span, sentence, summary, evidence or refusal
    abstained: bool
    score: float
    highlight: tuple[int, int] | None = None  # the key part of `text`
    question_kind: str
    resolved_question: str
    sources: list[SourceOut]
    index_version: str | None = None  # which saved version of the shared documents answered

    @classmethod
    def of(cls, ans: Answer) -> "AnswerOut":
        sources = [SourceOut(**{k: getattr(s, k) for k in ("doc_id", "title", "text", "start", "end", "score",
                                                          "answer_start", "answer_end")},
                             highlighted=s.text[slice(*s.span)] if s.span else None) for s in ans.sources]
        return cls(text=ans.text, kind=ans.kind, abstained=ans.abstained, score=ans.score, highlight=ans.highlight,
                   question_kind=ans.question_kind, resolved_question=ans.resolved_question, sources=sources)


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id, …: accepted and ignored
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, …: accepted and ignored, as they change nothing
    model: str = MODEL_ID
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1)  # one answer only; n > 1 is refused, as OpenAI refuses bad values


def _text(content) -> str:
    """A message's text: a string, or OpenAI's list of parts ({"type": "text", "text": …})."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content or ""


def conversation(messages: list[Message]) -> tuple[str, list[tuple[str, str]]]:
    """(the last user message, earlier user/assistant pairs as history)."""
    turns = [(m.role, _text(m.content)) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise QuestionError("The last message must be the user's question.")
    history, pending = [], None
    for role, text in turns[:-1]:
        if role == "user":
            pending = text
        elif pending is not None:
            history.append((pending, text))
            pending = None
    return turns[-1][1], history


def reply_text(ans: Answer) -> str:
    """The answer, then where it comes from, as a chat client shows it."""
    if ans.kind == "summary":
        body = "\n".join(f"- {s.text}" for s in ans.sources)
        docs = list(dict.fromkeys((s.title, s.doc_id) for s in ans.sources))  # an overview cites several
        if not docs:
            return body
        return f"{body}\n\n{'Source' if len(docs) == 1 else 'Sources'}: " + "; ".join(f"{t} ({d})" for t, d in docs)
    cited = ans.cited
    if cited is None:
        return ans.text
    quote = cited.text[slice(*cited.span)]
    return (f"{ans.text}\n\nSource: {cited.title} ({cited.doc_id}), characters {cited.answer_start}–"
            f"{cited.answer_end}: \"{quote}\"")


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


def require_auth(app: FastAPI, user: str, password: str) -> None:
    """With `--auth`, the API wants the same login as the page: HTTP Basic, or the password as a Bearer key
    (what OpenAI clients send as api_key)."""
    import base64
    import hmac

    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    accepted = [f"Basic {basic}", f"Bearer {password}"]

    @app.middleware("http")
    async def check(request: Request, call_next):
        if request.url.path.startswith(("/api/", "/v1/")):
            given = request.headers.get("authorization", "")
            if not any(hmac.compare_digest(given.encode(), a.encode()) for a in accepted):
                return _error(401, "this server wants a login: HTTP Basic, or the password as the API key",
                              "authentication_error")
        return await call_next(request)


def create_api(assistant: Assistant | Callable[[], Assistant], ready: threading.Event | None = None) -> FastAPI:
    """`assistant` is one assistant, or a function that gives the one to answer each request with (qa.live)."""
    app = FastAPI(title="Ask the article", description=__doc__, version="1")
    ready = ready or threading.Event()
    current = assistant if callable(assistant) else lambda: assistant

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors())
        return _error(422, f"invalid request: {where}")

    @app.exception_handler(QuestionError)
    async def bad_question(request: Request, exc: QuestionError):
        return _error(422, str(exc))

    @app.exception_handler(Exception)
    async def failure(request: Request, exc: Exception):  # never a traceback to the caller
        return _error(500, "the server could not answer; see its log", "server_error")

    @app.post("/api/ask", response_model=AnswerOut)
    def ask(req: AskRequest) -> AnswerOut:
        a = current()
        return AnswerOut.of(a.ask(req.question, req.history)).model_copy(update={"index_version": a.index.version})

    @app.get("/api/documents")
    def documents() -> list[dict]:
        index = current().index
        chunks = index.chunk_counts()
        return [{"id": d.id, "title": d.title, "words": len(d.text.split()), "chunks": chunks[d.id]}
                for d in index.documents.values()]

    @app.get("/api/health")
    def health():
        if not ready.is_set():
            return JSONResponse({"status": "loading"}, status_code=503)
        a = current()
        return {"status": "ready", "documents": len(a.index.documents), "reader": a.reader.name,
                "index_version": a.index.version}

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "local"}]}

    @app.post("/v1/chat/completions")
    def chat(req: ChatRequest):
        question, history = conversation(req.messages)
        ans = current().ask(question, history)
        content, rid, created = reply_text(ans), f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        extra = {"qa": AnswerOut.of(ans).model_dump()}  # OpenAI clients keep unknown fields; they ignore them
        if not req.stream:
            return {"id": rid, "object": "chat.completion", "created": created, "model": req.model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": len(question.split()), "completion_tokens": len(content.split()),
                              "total_tokens": len(question.split()) + len(content.split())}, **extra}

        def events():
            def chunk(delta: dict, finish=None, **more) -> str:
                body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": req.model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **more}
                return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

            yield chunk({"role": "assistant", "content": ""})
            words = content.split(" ")
            for i in range(0, len(words), 4):  # a few words a chunk, as a model would write them
                yield chunk({"content": " ".join(words[i:i + 4]) + (" " if i + 4 < len(words) else "")})
            yield chunk({}, "stop", **extra)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app
