"""The authentication log written in batches by a thread of its own, off the request path.

Why: written as it happened, a sign-in's log cost the database two or three statements
(the begin's record, the provider that took the message, the verify's outcome), each its
own round trip and commit — as many as the rest of the sign-in. Batched, a few hundred
records go in one transaction.

Durability bound (docs/api.md, "The authentication log"): a record is handed to the
database at most ``interval`` (50 ms) after ``put`` returned, and committed with its batch.
A process killed outright (``kill -9``, a power cut) loses the records of its last
``interval`` and of the batch being written then; while the database fails, the records it
cannot take stay here (up to ``capacity``, then ``put`` refuses and the engine refuses the
sign-in before anything is sent) and are written when it is back. A graceful stop
(SIGTERM: the server's shutdown closes the repository) writes everything first: nothing is
lost. ``flush`` writes what is buffered now (``SqlRepository.logs`` calls it, so a process
always reads its own records).

Records of one authentication are merged as they come (``mfa.auth_log.merged``), so the
order in which batches of several servers reach the database does not matter.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence

from mfa.auth_log import AuthLogRecord, merged
from mfa.errors import ServiceUnavailable

__all__ = ["FLUSH_INTERVAL_SECONDS", "LogWriter"]

#: The longest a record waits in memory before its batch goes to the database.
FLUSH_INTERVAL_SECONDS = 0.05
#: Records per batch at most (a full batch is written at once).
MAX_BATCH = 500
#: Records held while the database fails, before ``put`` refuses.
CAPACITY = 50_000
#: The wait between attempts while the database fails.
RETRY_SECONDS = 1.0

_log = logging.getLogger(__name__)


class LogWriter:
    """Buffers log records and writes them with ``write`` (one transaction per batch)."""

    def __init__(
        self,
        write: Callable[[Sequence[AuthLogRecord]], None],
        *,
        interval: float = FLUSH_INTERVAL_SECONDS,
        max_batch: int = MAX_BATCH,
        capacity: int = CAPACITY,
    ) -> None:
        self._write = write
        self._interval, self._max_batch, self._capacity = interval, max_batch, capacity
        self._reset()
        # hooks hold the writer by weak reference (else every writer ever made stays alive):
        # a forked child starts empty; an interpreter that exits without ``close`` (a
        # command-line tool) still writes what it holds
        os.register_at_fork(after_in_child=_weakly(self._reset))
        atexit.register(_weakly(self.close))

    def _reset(self) -> None:
        """A fresh buffer and no thread: at start and in a forked child, whose parent's
        records are the parent's to write."""
        self._buffer: dict[str, AuthLogRecord] = {}
        self._since = 0.0  # when the oldest buffered record came
        self._cond = threading.Condition()
        self._writing = threading.Lock()  # one batch at a time
        self._thread: threading.Thread | None = None
        self._closed = False

    def put(self, record: AuthLogRecord) -> None:
        """Buffer ``record``; ``ServiceUnavailable`` when ``capacity`` records wait already
        (the database has been failing)."""
        with self._cond:
            if self._closed:
                raise ServiceUnavailable("database", "the authentication log is closed")
            held = self._buffer.get(record.auth_id)
            if held is None and len(self._buffer) >= self._capacity:
                raise ServiceUnavailable("database", "the authentication log cannot be written")
            if not self._buffer:
                self._since = time.monotonic()
            self._buffer[record.auth_id] = merged(held, record)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mfa-log", daemon=True)
                self._thread.start()
            if len(self._buffer) in (1, self._max_batch):
                self._cond.notify()

    def flush(self) -> None:
        """Write every record buffered now, in this thread; ``ServiceUnavailable`` (the
        records kept for later) if the database fails."""
        if not self._write_batch():
            raise ServiceUnavailable("database", "the authentication log cannot be written")

    def close(self) -> None:
        """Stop the thread and write what is left (a graceful stop loses nothing)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        self._write_batch()

    def _run(self) -> None:
        while self._wait_for_batch():
            if not self._write_batch():
                time.sleep(RETRY_SECONDS)

    def _wait_for_batch(self) -> bool:
        """Wait until a batch is due: ``interval`` after its first record, at once when it
        is full or the writer closes. ``False`` once closed (``close`` writes the rest)."""
        with self._cond:
            while not self._buffer and not self._closed:
                self._cond.wait()
            while not self._closed and len(self._buffer) < self._max_batch:
                left = self._since + self._interval - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return not self._closed

    def _write_batch(self) -> bool:
        """Write what is buffered; on failure put it back (merged with what came since)."""
        with self._writing:
            with self._cond:
                batch, self._buffer = self._buffer, {}
            if not batch:
                return True
            try:
                self._write(list(batch.values()))
            except Exception as exc:  # the database failing: keep the records
                _log.warning("authentication log not written, kept for later: %s", type(exc))
                with self._cond:
                    for auth_id, record in batch.items():
                        newer = self._buffer.get(auth_id)
                        self._buffer[auth_id] = record if newer is None else merged(record, newer)
                    self._since = time.monotonic()
                return False
            return True


def _weakly(method: Callable[[], object]) -> Callable[[], None]:
    """``method`` called through a weak reference to its object (nothing once it is gone)."""
    ref = weakref.WeakMethod(method)  # type: ignore[arg-type]

    def call() -> None:
        alive = ref()
        if alive is not None:
            alive()

    return call
