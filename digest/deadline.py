"""A time budget for one piece of work in the current thread: past it, the work is interrupted.

The structural budgets of ingest (bytes, tags, lines, headers) keep every known costly input cheap;
this is the net under them for inputs nobody has thought of (a pathological regex, a parser loop).
Signals only reach the main thread, and runs clean articles in worker threads (Prefect tasks), so
the interruption is an asynchronous exception raised inside the working thread at its next Python
instruction (`PyThreadState_SetAsyncExc`). Work stuck inside one long C call is interrupted when
that call returns.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import threading
import time
from types import TracebackType

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)


class DeadlineExceeded(Exception):
    """The work ran past its time budget."""


class _Watchdog:
    """One daemon thread that fires every armed deadline of the process when it falls due.

    A budget is armed for every file read and cleaned: a thread (threading.Timer) per file cost
    about 0.3 ms each on a busy machine, 60 s of a 100,000-article run; one thread and a heap do not.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        threading.Thread(target=self._loop, name="digest-deadlines", daemon=True).start()

    def arm(self, deadline: Deadline, seconds: float) -> None:
        with self._wake:
            heapq.heappush(self._due, (time.monotonic() + seconds, next(self._order), deadline))
            if self._due[0][2] is deadline:
                self._wake.notify()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while self._due and self._due[0][2]._done:  # ended in time: forget it
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                when, _, deadline = self._due[0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._due)
            deadline._fire()


_watchdog: _Watchdog | None = None  # the process's watchdog thread, started by the first deadline
_watchdog_lock = threading.Lock()


def _the_watchdog() -> _Watchdog:
    global _watchdog
    with _watchdog_lock:
        if _watchdog is None or _watchdog.pid != os.getpid():  # a forked child has no thread of its parent's
            _watchdog = _Watchdog()
        return _watchdog


class Deadline:
    """Context manager: raise DeadlineExceeded in this thread when the block runs over `seconds` (0: no limit)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._thread = threading.get_ident()
        self._lock = threading.Lock()
        self._done = False
        self._fired = False
        self._armed = False

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._fired = True
            _set_async_exc(self._thread, DeadlineExceeded)

    def __enter__(self) -> Deadline:
        if self.seconds > 0:
            self._thread = threading.get_ident()
            self._armed = True
            _the_watchdog().arm(self, self.seconds)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._armed:
            return
        with self._lock:
            self._done = True
            if self._fired:
                _set_async_exc(self._thread, ctypes.py_object())  # withdraw it if not raised yet
        if self._fired and kind is None:
            raise DeadlineExceeded(f"over {self.seconds:g} s")
