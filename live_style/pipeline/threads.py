"""Thread and queue helpers shared by the pipelines: stages that report their failure, queues that never hang."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

END = object()
POLL_S = 0.1


class Stage(threading.Thread):
    """A pipeline thread that remembers the exception it died of and stops the job with it."""

    def __init__(self, name: str, target: Callable[[], None], stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self._target_fn, self._job_stop = target, stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as error:
            self.error = error
            self._job_stop.set()


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
