"""First-run model download: Kaggle's .tar.gz, tfhub.dev as fallback, verified before it is cached.

A real HTTP server on 127.0.0.1 stands in for both hosts (LIVE_STYLE_KAGGLE_URL / LIVE_STYLE_TFHUB_URL),
serving the real Magenta files from ../shared, or what a broken host sends instead.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CHICAGO, LITE_DIR, SHARED
from model_host import ModelHost, body, redirect_loop, status, truncated

from live_style import cli
from live_style.model.remote import DEFAULT_PREDICT, DEFAULT_TRANSFER, HUB, parse_reference
from live_style.model.spec import locate_model

WAVE = SHARED / "styles" / "wave.jpg"
PREDICT = (LITE_DIR / "style_predict_int8.tflite").read_bytes()
TRANSFER = (LITE_DIR / "style_transfer_fp16.tflite").read_bytes()


def tar_gz(files: dict[str, bytes]) -> bytes:
    """An archive as Kaggle's download endpoint serves it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class MagentaHost(ModelHost):
    """Kaggle and tfhub.dev, as one stand-in."""

    def serve_real_files(self) -> None:
        """Kaggle's archives of the real files (1.tflite inside, as Kaggle packs TF Lite variations)."""
        self.answers[f"/kaggle/api/v1/models/{DEFAULT_PREDICT.kaggle}/"] = body(tar_gz({"1.tflite": PREDICT}))
        self.answers[f"/kaggle/api/v1/models/{DEFAULT_TRANSFER.kaggle}/"] = body(tar_gz({"1.tflite": TRANSFER}))


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MagentaHost]:
    """The stand-in hosts, an empty private cache, and no LIVE_STYLE_MODEL: the first run of a new user."""
    server = MagentaHost()
    monkeypatch.setenv("LIVE_STYLE_KAGGLE_URL", f"{server.url}/kaggle")
    monkeypatch.setenv("LIVE_STYLE_TFHUB_URL", f"{server.url}/tfhub")
    monkeypatch.setenv("LIVE_STYLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LIVE_STYLE_MODEL", raising=False)
    yield server
    server.server.shutdown()


def cache_listing(tmp_path: Path) -> list[str]:
    cache = tmp_path / "cache"
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def stylize_once(tmp_path: Path, *extra: str) -> int:
    return cli.main(
        ["image", str(CHICAGO), "--style", str(WAVE), "--size", "64", "-o", str(tmp_path / "o.png"), *extra]
    )


def test_first_run_downloads_verifies_and_uses_the_pair_then_reuses_it(
    host: MagentaHost, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    host.serve_real_files()
    assert stylize_once(tmp_path) == 0
    assert (tmp_path / "o.png").is_file()
    first = capsys.readouterr().err
    assert first.count("downloading ") == 2 and "256-int8-prediction" in first and "256-fp16-transfer" in first
    records = sorted((tmp_path / "cache").rglob("download.json"))
    assert len(records) == 2 and all('"sha256"' in r.read_text() for r in records)
    asked = len(host.asked)
    assert stylize_once(tmp_path) == 0
    assert len(host.asked) == asked and "downloading" not in capsys.readouterr().err


def test_tfhub_fallback_serves_the_bare_file_when_kaggle_fails(host: MagentaHost, tmp_path: Path) -> None:
    host.answers["/kaggle/"] = status(404)
    host.answers[f"/tfhub/{DEFAULT_PREDICT.tfhub}"] = body(PREDICT)
    host.answers[f"/tfhub/{DEFAULT_TRANSFER.tfhub}"] = body(TRANSFER)
    assert stylize_once(tmp_path) == 0
    assert any(path.startswith("/tfhub/") and "lite-format=tflite" in path for path in host.asked)


BROKEN = {
    "html page": body(b"<!DOCTYPE html><html><body>Kaggle: sign in</body></html>" * 40, "text/html"),
    "http 500": status(500),
    "redirect loop": redirect_loop,
    "truncated": truncated(tar_gz({"1.tflite": PREDICT})),
    "truncated archive": body(tar_gz({"1.tflite": PREDICT})[:50_000]),  # served whole, but the .tar.gz is cut
    "wrong content": body(tar_gz({"1.tflite": TRANSFER})),  # a transfer file where the predict file belongs
    "not a model": body(tar_gz({"README.txt": b"hello"})),
}


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_a_broken_host_ends_in_one_line_naming_every_address_and_leaves_the_cache(
    broken: str, host: MagentaHost, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    host.serve_real_files()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "keep.txt").write_text("the user's")
    before = cache_listing(tmp_path)
    host.answers = {"/kaggle/": BROKEN[broken], "/tfhub/": BROKEN[broken]}
    assert stylize_once(tmp_path) == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("live-style: error")]
    assert len(error_lines) == 1
    line = error_lines[0]
    for url in DEFAULT_PREDICT.addresses():
        assert url in line
    assert "kaggle.com/models/" in line and "LIVE_STYLE_MODEL" in line
    assert "256-int8-prediction" in line and "256-fp16-transfer" in line  # by hand, both halves of the pair
    assert any(p.startswith("/tfhub/") for p in host.asked)  # the fallback was tried
    assert cache_listing(tmp_path) == before
    assert not (tmp_path / "o.png").exists()


def test_a_damaged_cached_file_is_found_replaced_and_reported(
    host: MagentaHost, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    host.serve_real_files()
    assert stylize_once(tmp_path) == 0
    cached = next(p for p in (tmp_path / "cache").rglob("*.tflite") if "transfer" in p.name)
    cached.write_bytes(b"<html>not a model</html>")
    capsys.readouterr()
    assert stylize_once(tmp_path) == 0
    err = capsys.readouterr().err
    downloads = [line for line in err.splitlines() if line.startswith("downloading ")]
    assert "damaged" in err and len(downloads) == 1 and "256-fp16-transfer" in downloads[0]
    assert cached.read_bytes() == TRANSFER


def test_an_html_page_cached_by_the_old_version_is_removed(
    host: MagentaHost, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    host.serve_real_files()
    legacy = tmp_path / "cache" / "magenta-lite" / "style_predict_int8.tflite"
    legacy.parent.mkdir(parents=True)
    legacy.write_text("<!DOCTYPE html><html>Kaggle</html>")
    assert stylize_once(tmp_path) == 0
    assert not legacy.exists() and "older live-style" in capsys.readouterr().err


def test_the_hub_savedmodel_arrives_as_a_tar_gz(host: MagentaHost, hub_model_dir: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(hub_model_dir, arcname=".")
    host.answers[f"/kaggle/api/v1/models/{HUB.kaggle}/"] = body(buffer.getvalue())
    files = locate_model("hub", gpu=False)
    assert files.kind == "hub" and (files.paths[0] / "saved_model.pb").is_file()
    assert (files.paths[0] / "download.json").is_file()


@pytest.mark.parametrize(
    ("spec", "role", "kaggle"),
    [
        ("google/arbitrary-image-stylization-v1/tfLite/256-int8-transfer", "transfer", "tfLite/256-int8-transfer/1"),
        (
            "https://www.kaggle.com/models/google/arbitrary-image-stylization-v1/tfLite/256-fp16-prediction/1",
            "predict",
            "tfLite/256-fp16-prediction/1",
        ),
        (
            "https://tfhub.dev/google/lite-model/magenta/arbitrary-image-stylization-v1-256/int8/prediction/1",
            "predict",
            "tfLite/256-int8-prediction/1",
        ),
        ("https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2", "hub", "tensorFlow1/256/2"),
        ("google/magenta/arbitrary-image-stylization-v1-256/2", "hub", "tensorFlow1/256/2"),
    ],
)
def test_kaggle_and_tfhub_references_name_the_same_models(spec: str, role: str, kaggle: str) -> None:
    remote = parse_reference(spec)
    assert remote is not None and remote.role == role
    assert remote.kaggle == f"google/arbitrary-image-stylization-v1/{kaggle}"
    assert remote.tfhub is not None  # Magenta's own models keep their tfhub.dev fallback


@pytest.mark.parametrize(
    "spec", ["https://tfhub.dev/x", "https://tfhub.dev/", "https://notkaggle.com/models/a/b/tfLite/c", "google/x"]
)
def test_what_is_not_a_model_reference_is_not_taken_for_one(spec: str) -> None:
    assert parse_reference(spec) is None


def test_a_kaggle_handle_given_as_model_is_downloaded(host: MagentaHost, tmp_path: Path) -> None:
    host.serve_real_files()
    spec = f"{DEFAULT_PREDICT.kaggle},https://www.kaggle.com/models/{DEFAULT_TRANSFER.kaggle}"
    assert stylize_once(tmp_path, "--model", spec) == 0
    assert len(host.asked) == 2


def test_a_folder_of_two_tflite_files_named_anyhow_is_the_pair(tmp_path: Path) -> None:
    """Both of Magenta's archives unpack to 1.tflite: a folder of the two, however renamed, is told apart by inputs."""
    from live_style.model.spec import locate_model

    predict, transfer = LITE_DIR / "style_predict_int8.tflite", LITE_DIR / "style_transfer_fp16.tflite"
    (tmp_path / "1.tflite").write_bytes(transfer.read_bytes())
    (tmp_path / "a.tflite").write_bytes(predict.read_bytes())
    assert locate_model(str(tmp_path), gpu=False).paths == (tmp_path / "a.tflite", tmp_path / "1.tflite")
