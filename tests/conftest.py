"""Shared fixtures: the real models and media in ../shared (read by path, never copied)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

with contextlib.suppress(ImportError):  # before TensorFlow, as `live-style serve` does: libsrtp crashes after it
    import aiortc  # noqa: F401

from live_style.temporal.metrics import psnr  # noqa: F401  (tests import it from here)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIVE_STYLE_SHARED", ROOT.parent / "shared")).resolve()
LITE_DIR = SHARED / "models" / "magenta-lite"
HUB_GRAPH_DIR = SHARED / "models" / "magenta-hub-graph"
SEGMENTER_DIR = SHARED / "models" / "selfie-segmentation"
STYLES = sorted((SHARED / "styles").glob("*.jpg"))
CHICAGO = SHARED / "media" / "chicago.jpg"
# int8 networks are made once per style vector and are the same for every run (what a user's cache
# gives): the CLI tests share them instead of spending seconds on NNCF in every test
INT8_NETWORKS = Path(tempfile.mkdtemp(prefix="live-style-int8-"))
PRECISION_CHOICES = Path(tempfile.mkdtemp(prefix="live-style-precision-"))  # likewise: measured once a session
CHROMIUM = os.environ.get("LIVE_STYLE_CHROMIUM", "/usr/bin/chromium")


def pytest_configure(config: pytest.Config) -> None:
    if not LITE_DIR.is_dir():
        raise pytest.UsageError(f"the shared models are missing at {SHARED}; set LIVE_STYLE_SHARED to ../shared")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(INT8_NETWORKS, ignore_errors=True)
    shutil.rmtree(PRECISION_CHOICES, ignore_errors=True)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private style-vector cache, so tests never see a user's cache."""
    return share_precision_choices(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def lite_model(cache_dir: Path):
    """The real Magenta TF Lite weights as the TF-graph Stylizer."""
    from live_style import load_model

    return load_model(str(LITE_DIR), cache_dir=cache_dir, runtime="tensorflow")


@pytest.fixture(scope="session")
def hub_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real hub graph with synthetic weights (structure and timing real, pictures not)."""
    from synthetic_hub import write_synthetic_hub_model

    return write_synthetic_hub_model(HUB_GRAPH_DIR, tmp_path_factory.mktemp("hub"))


@pytest.fixture(scope="session")
def playwright():
    """Playwright driving Debian's Chromium (no browser download)."""
    if not Path(CHROMIUM).is_file():
        missing = f"the studio's page tests need Chromium at {CHROMIUM} (sudo apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}; CI must run them")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chicago() -> np.ndarray:
    return cv2.imread(str(CHICAGO))


@pytest.fixture(scope="session")
def wave() -> np.ndarray:
    return cv2.imread(str(SHARED / "styles" / "wave.jpg"))


def share_precision_choices(cache: Path) -> Path:
    """Point a cache's measured precisions at the session's (measuring takes seconds; the answer is the same)."""
    cache.mkdir(parents=True, exist_ok=True)
    link = cache / "precision-choice"
    if not link.exists():
        link.symlink_to(PRECISION_CHOICES, target_is_directory=True)
    return cache


def cli_env(cache: Path, share_int8: bool = True) -> dict[str, str]:
    """The environment the CLI runs in under test: the shared TF Lite model and segmenter, a private cache
    (whose int8 networks are the session's, unless `share_int8` is False, and so are its measured precisions)."""
    share_precision_choices(cache)
    link = cache / "int8-transfer"
    if share_int8 and not link.exists():
        link.symlink_to(INT8_NETWORKS, target_is_directory=True)
    model = {"LIVE_STYLE_MODEL": str(LITE_DIR), "LIVE_STYLE_SEGMENTER": str(SEGMENTER_DIR)}
    return {**os.environ, **model, "LIVE_STYLE_CACHE": str(cache)}


def cli_argv(*args: str | Path) -> list[str]:
    """The command line of `live-style ARGS` run as a user runs it (a new interpreter), for subprocess."""
    return [sys.executable, "-m", "live_style", *map(str, args)]


def run_cli(*args: str | Path, cache: Path, timeout: float = 300, **popen) -> subprocess.CompletedProcess:
    """`live-style ARGS` as a user runs it (a subprocess), with the shared TF Lite model and a private cache."""
    env = {**cli_env(cache), **popen.pop("env", {})}
    return subprocess.run(
        cli_argv(*args),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        **popen,
    )


def run_cli_here(*args: str | Path, cache: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`live-style ARGS` in this process (what run_cli answers, without a new interpreter importing TensorFlow):
    for refusals, which happen before any real work. The environment is the CLI's for the call only."""
    import io
    from contextlib import redirect_stderr, redirect_stdout
    from unittest import mock

    from live_style import cli

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, {**cli_env(cache), **(env or {})}), redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exit:  # argparse's refusals
            code = exit.code
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
