"""Thread and queue helpers shared by the pipelines: stages that report their failure, queues that never hang."""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections.abc import Callable, Iterator

END = object()
POLL_S = 0.1


class Stage(threading.Thread):
    """A pipeline thread that remembers the exception it died of and hands it to `on_error` (which stops the job)."""

    def __init__(self, name: str, target: Callable[[], None], on_error: Callable[[BaseException], None]):
        super().__init__(name=name, daemon=True)
        self._target_fn, self._on_error = target, on_error
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as error:
            self.error = error
            self._on_error(error)


def put_unless_stopped(channel: queue.Queue, item: object, stop: threading.Event) -> None:
    """Put, giving up when `stop` is set (so no thread hangs on a full queue)."""
    while not stop.is_set():
        try:
            channel.put(item, timeout=POLL_S)
            return
        except queue.Full:
            continue


def get_unless_stopped(channel: queue.Queue, stop: threading.Event) -> object:
    """Get, or END once `stop` is set and nothing is left (so no thread hangs on an empty one)."""
    while True:
        try:
            return channel.get(timeout=POLL_S)
        except queue.Empty:
            if stop.is_set():
                return END


@contextlib.contextmanager
def stop_signals_call(handler: Callable) -> Iterator[None]:
    """Ctrl+C and SIGTERM call `handler` inside the block (in the main thread; elsewhere nothing changes).

    Explicit for SIGINT too: a shell that starts us in the background without job control leaves
    SIGINT ignored, and Python then installs no Ctrl+C handler of its own.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, earlier in previous.items():
            signal.signal(sig, earlier)
