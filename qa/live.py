"""The shared index as it is on disk now, for servers whose documents an operator changes while they run.

Each request takes `current()` once and is answered wholly by that assistant, so it reads one complete version
of the index: a new version is loaded (and verified against its manifest) between requests, and one that is
still being written is skipped until the next check.
"""
from __future__ import annotations

import logging
import threading
import time

from qa.assistant import Assistant
from qa.index import Index, IndexLoadError

log = logging.getLogger("qa")


class LiveAssistant:
    def __init__(self, assistant: Assistant, check_every_s: float = 0.5):
        self._current = assistant
        self.check_every_s = check_every_s
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @property
    def version(self) -> str | None:
        return self._current.index.version

    def current(self) -> Assistant:
        """The assistant over the newest complete index; checking costs one small file read, at most every
        `check_every_s` seconds, and never makes a request wait for another's reload."""
        if time.monotonic() - self._checked < self.check_every_s or not self._lock.acquire(blocking=False):
            return self._current
        try:
            self._checked = time.monotonic()
            s = self._current.settings
            on_disk = Index.version(s.index_dir)
            if on_disk and on_disk != self._current.index.version:
                try:
                    index = Index.load(s.index_dir, self._current.embedder.model_id, s.chunk_words,
                                       s.chunk_overlap, repair=False)
                except IndexLoadError as e:  # a writer is mid-swap; the next check finds it whole
                    log.info("index not reloaded yet: %s", e)
                else:
                    self._current = self._current.with_index(index)
                    log.info("index reloaded: version %s, %d documents", index.version[:12], len(index.documents))
            return self._current
        finally:
            self._lock.release()
