"""Progress through a long clip, for whoever is watching (the terminal).

A format that streams many frames calls :func:`report_frame`; the CLI installs a
callback with :func:`frame_progress` around a screen when stderr is a terminal.
Nothing is reported otherwise (batch workers, the web app, ``--json``). A context
variable, not a parameter: the stages between the CLI and the decoder need not
know about it."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

# (frames done, frames in the file) -> None
FrameCallback = Callable[[int, int], None]

_callback: ContextVar[FrameCallback | None] = ContextVar("phi_guard_frame_progress", default=None)


@contextlib.contextmanager
def frame_progress(callback: FrameCallback) -> Iterator[None]:
    """Call ``callback(done, total)`` as frames are read while the block runs."""
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)


def report_frame(done: int, total: int) -> None:
    """One more frame read (no-op unless someone is watching)."""
    callback = _callback.get()
    if callback is not None:
        callback(done, total)
