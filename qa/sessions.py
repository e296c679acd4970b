"""Visitors' own documents: an upload is searched only for the browser session that made it.

A session keeps its documents (a small list, in the web app's per-session state) under limits; the
assistant for that session is the shared one plus those documents, in memory only, built once and kept in
a small LRU cache. Nothing a visitor uploads reaches the shared index or the disk.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

from qa.assistant import Assistant
from qa.document import Document, DocumentError, from_bytes


@dataclass(frozen=True)
class Limits:
    documents: int = 20  # per session
    megabytes: float = 5.0  # of text per session
    file_megabytes: float = 2.0  # per file (checked before the file is read: qa.web)
    sessions: int = 200  # sessions whose state the server keeps; the oldest goes first
    idle_seconds: int = 3600  # a session's uploads are forgotten this long after its last change
    cached_views: int = 16  # assistants over shared + a session's documents, kept ready

    def describe(self) -> str:
        return (f"Uploads are private to this browser session: at most {self.documents} documents, "
                f"{self.megabytes:g} MB of text in all ({self.file_megabytes:g} MB a file), "
                f"forgotten {self.idle_seconds // 60} minutes after your last upload (or sooner when more than "
                f"{self.sessions} visitors are here: the oldest session goes first).")


def uploaded(data: bytes, name: str, taken) -> Document:
    """An uploaded file as a document. Its id is taken from the content, never from the file's name, so no upload
    can take another document's id; the same text as a document in `taken` (ids) is refused."""
    doc = from_bytes(data, name)
    doc = replace(doc, id=f"upload-{doc.sha256[:12]}")
    if doc.id in taken:
        raise DocumentError(f"{name}: the same text is already indexed")
    return doc


class Sessions:
    def __init__(self, shared: Assistant, limits: Limits = Limits()):
        self.shared = shared
        self.limits = limits
        self._views: OrderedDict[tuple, Assistant] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, documents: list[Document], data: bytes, name: str) -> tuple[Document, list[Document]]:
        """(the new document, the session's documents with it); DocumentError says why not, and changes nothing."""
        lim = self.limits
        if len(documents) >= lim.documents:
            raise DocumentError(f"this session already has {len(documents)} documents, the limit; "
                                "reload the page to start a new session")
        doc = uploaded(data, name, {*self.shared.index.documents, *(d.id for d in documents)})
        used = sum(len(d.text.encode()) for d in documents)
        if used + len(doc.text.encode()) > lim.megabytes * 1e6:
            raise DocumentError(f"{name}: this session's documents would pass {lim.megabytes:g} MB")
        return doc, [*documents, doc]

    def assistant(self, documents: list[Document]) -> Assistant:
        """The assistant that answers this session: the shared one, plus its documents if it has any."""
        if not documents:
            return self.shared
        shared = tuple(self.shared.index.manifest["documents"].items())  # an operator's change makes new views
        key = (shared, tuple(d.id for d in documents))
        with self._lock:
            view = self._views.get(key)
            if view is not None:
                self._views.move_to_end(key)
                return view
        view = self.shared.with_documents(documents)  # embedding happens outside the lock
        with self._lock:
            self._views[key] = view
            while len(self._views) > self.limits.cached_views:
                self._views.popitem(last=False)
        return view
