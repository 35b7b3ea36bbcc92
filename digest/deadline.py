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
import threading
from types import TracebackType

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)


class DeadlineExceeded(Exception):
    """The work ran past its time budget."""


class Deadline:
    """Context manager: raise DeadlineExceeded in this thread when the block runs over `seconds` (0: no limit)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._thread = threading.get_ident()
        self._lock = threading.Lock()
        self._done = False
        self._fired = False
        self._timer: threading.Timer | None = None

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._fired = True
            _set_async_exc(self._thread, DeadlineExceeded)

    def __enter__(self) -> Deadline:
        if self.seconds > 0:
            self._thread = threading.get_ident()
            self._timer = threading.Timer(self.seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._timer is None:
            return
        self._timer.cancel()
        with self._lock:
            self._done = True
            if self._fired:
                _set_async_exc(self._thread, ctypes.py_object())  # withdraw it if not raised yet
        if self._fired and kind is None:
            raise DeadlineExceeded(f"over {self.seconds:g} s")
