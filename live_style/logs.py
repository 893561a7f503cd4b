"""What reaches the user's terminal: live-style's own lines, and the libraries' logs only with --verbose.

TensorFlow and TF Lite write some lines from C++ straight to file descriptor 2 (the start-up
banner, "Created TensorFlow Lite XNNPACK delegate"), before or outside any logging setting, so
those moments run with stderr parked in a file that is shown only if they fail.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_verbose = False
OWN_LOGGER = "live_style"


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time (a test's capture, a redirected stream)."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass  # always the current sys.stderr


def show_own_lines() -> None:
    """live-style's own lines (what it downloads, writes, resumes, warns of) on stderr as plain text, once."""
    logger = logging.getLogger(OWN_LOGGER)
    if not any(isinstance(handler, StderrHandler) for handler in logger.handlers):
        logger.addHandler(StderrHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False


def set_verbose(verbose: bool) -> None:
    """Show the libraries' own logs (True) or keep them off the terminal (False, the default)."""
    global _verbose
    _verbose = verbose
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "3"
    level = logging.INFO if verbose else logging.ERROR
    for name in ("tensorflow", "absl", "h5py", "ray"):
        logging.getLogger(name).setLevel(level)
    if not verbose:
        warnings.filterwarnings("ignore", module=r"(tensorflow|keras|tf_keras|tensorflow_hub)(\.|$)")
        # Ray's C++ core writes its own errors to stderr ("Failed to push error to driver" once a second
        # while a lost head is given up on): the renderer says what happened in one line instead
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")


@contextmanager
def quiet_native_stderr(replay: bool = True) -> Iterator[None]:
    """Park file descriptor 2 while a library talks to it directly; replay it if the block fails (unless the
    caller's own line says what failed)."""
    if _verbose:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as parked:
        os.dup2(parked.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            if replay:
                parked.seek(0)
                sys.stderr.write(parked.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and let it find its devices, with its start-up chatter parked."""
    with quiet_native_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
