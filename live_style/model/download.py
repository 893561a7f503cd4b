"""Download a RemoteModel once into the user's cache: retried, shown with a progress bar, verified first.

Each download goes to a temporary folder beside the cache, is unpacked (Kaggle serves .tar.gz,
tfhub.dev's TF Lite addresses the bare file), checked by `verify`, recorded with its sha256 in
`download.json`, and only then moved into place, so the cache never holds a web page, a truncated
file or an error body. A cached entry that no longer matches its record is removed and fetched again.
"""

from __future__ import annotations

import json
import logging
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from live_style.atomic import sha256_of
from live_style.errors import UserError
from live_style.model.remote import RemoteModel
from live_style.model.verify import BadModel, check_model

log = logging.getLogger(__name__)

RECORD = "download.json"
CHUNK = 1 << 20
TIMEOUT_S = (10, 60)  # connect, read
RETRIES = Retry(total=3, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504), allowed_methods={"GET"})
MAX_REDIRECTS = 10
LEGACY_LITE_FOLDER = "magenta-lite"  # where live-style 0.1 kept the TF Lite pair


def http_session() -> requests.Session:
    """A session that retries transient failures (connection errors, 5xx, 429) with exponential backoff."""
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=RETRIES))
    session.mount("https://", HTTPAdapter(max_retries=RETRIES))
    session.max_redirects = MAX_REDIRECTS
    session.headers["User-Agent"] = "live-style"
    return session


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file below `folder` (but the record itself), by relative path."""
    return {
        str(p.relative_to(folder)): sha256_of(p) for p in sorted(folder.rglob("*")) if p.is_file() and p.name != RECORD
    }


def model_path(entry: Path, role: str) -> Path:
    """The usable model inside a cache entry: the SavedModel folder, or its one .tflite file."""
    if role == "hub":
        return entry
    files = sorted(entry.glob("*.tflite"))
    if len(files) != 1:
        raise BadModel(f"expected one .tflite file, found {len(files)}")
    return files[0]


def check_entry(entry: Path, remote: RemoteModel) -> Path:
    """The model in a cache entry, if its files still match the recorded sha256 (and a TF Lite file still opens)."""
    try:
        record = json.loads((entry / RECORD).read_text())
    except (OSError, ValueError):
        raise BadModel("it has no download record") from None
    if file_hashes(entry) != record.get("sha256"):
        raise BadModel("its files differ from the sha256 recorded at download")
    path = model_path(entry, remote.role)
    if remote.role != "hub":
        check_model(path, remote.role)
    return path


def fetch_body(session: requests.Session, url: str, target: Path, label: str) -> None:
    """Stream `url` into `target` with a progress bar (bytes, rate); raise requests' errors."""
    with session.get(url, stream=True, timeout=TIMEOUT_S) as response:
        response.raise_for_status()
        total = int(response.headers.get("Content-Length") or 0) or None
        with (
            open(target, "wb") as out,
            tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, disable=None) as bar,
        ):
            for block in response.iter_content(CHUNK):
                out.write(block)
                bar.update(len(block))


def unpack(body: Path, into: Path, remote: RemoteModel) -> Path:
    """A .tar.gz is extracted (no path leaves `into`); a bare file becomes `<variation>.tflite`."""
    into.mkdir()
    if tarfile.is_tarfile(body):
        with tarfile.open(body) as archive:
            extract_safely(archive, into)
        found = sorted(into.rglob("saved_model.pb")) if remote.role == "hub" else sorted(into.rglob("*.tflite"))
        if len(found) != 1:
            raise BadModel(
                f"the archive holds {len(found)} {'SavedModels' if remote.role == 'hub' else '.tflite files'}"
            )
        if remote.role == "hub" and found[0].parent != into:
            return found[0].parent
        if remote.role != "hub":
            found[0].rename(into / f"{remote.name.split('/')[-2]}.tflite")
        return into
    shutil.move(body, into / f"{remote.name.split('/')[-2]}.tflite")
    return into


def extract_safely(archive: tarfile.TarFile, into: Path) -> None:
    """Extract regular files and folders only, never outside `into` (tarfile's "data" filter where it exists)."""
    if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
        archive.extractall(into, filter="data")
        return
    for member in archive.getmembers():
        target = (into / member.name).resolve()
        if not (member.isfile() or member.isdir()) or not target.is_relative_to(into.resolve()):
            raise BadModel(f"the archive holds an unsafe entry ({member.name})")
    archive.extractall(into)


def describe(error: Exception) -> str:
    """A short reason for the list of addresses tried."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code}"
    if isinstance(error, requests.exceptions.RetryError):
        return "kept failing after retries (server error)"
    if isinstance(error, requests.TooManyRedirects):
        return "too many redirects"
    if isinstance(error, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return "the download broke off before the end"
    if isinstance(error, requests.ConnectionError):
        return "cannot connect"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, (EOFError, zlib.error)):
        return "the archive is truncated or damaged"
    return str(error) or type(error).__name__


def download_into_cache(remote: RemoteModel, entry: Path, session: requests.Session) -> Path:
    """Try each address until one gives a verified model; move it to `entry`. One-line UserError if none does."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tried = []
    for url in remote.addresses():
        log.info(f"downloading {remote.name} from {url}")
        with tempfile.TemporaryDirectory(dir=entry.parent, prefix=".download-") as scratch:
            try:
                body = Path(scratch) / "body"
                fetch_body(session, url, body, remote.name.split("/")[-2])
                folder = unpack(body, Path(scratch) / "model", remote)
                check_model(model_path(folder, remote.role), remote.role)
                check_published(model_path(folder, remote.role), remote.published_sha256(url))
            except (requests.RequestException, BadModel, tarfile.TarError, EOFError, zlib.error, OSError) as error:
                tried.append(f"{url} ({describe(error)})")
                continue
            (folder / RECORD).write_text(json.dumps({"url": url, "sha256": file_hashes(folder)}, indent=2))
            try:
                folder.rename(entry)
            except OSError:  # another live-style finished the same download first
                if not entry.is_dir():
                    raise
            return model_path(entry, remote.role)
    unpack_note = " (unpack the .tar.gz)" if remote.kaggle else ""
    by_hand = remote.by_hand or (
        f"Download it by hand from {remote.page()}{unpack_note} and point {remote.offline} at it "
        "(docs/models.md: Offline use)"
    )
    raise UserError(f"cannot download the model {remote.name}; tried {'; '.join(tried)}. {by_hand}")


def check_published(path: Path, sha256: str | None) -> None:
    """The file is the one published at its address (where that file is fixed)."""
    if sha256 is not None and sha256_of(path) != sha256:
        raise BadModel("its sha256 differs from the published file's")


def fetch(remote: RemoteModel, cache_root: Path, session: requests.Session | None = None) -> Path:
    """The cached model for `remote`, downloading (or replacing a damaged copy) when needed."""
    entry = cache_root / "models" / remote.name.replace("/", "--")
    if entry.exists():
        try:
            return check_entry(entry, remote)
        except BadModel as problem:
            log.warning(f"note: the cached {remote.name} is damaged ({problem}); removing it and downloading again")
            shutil.rmtree(entry)
    return download_into_cache(remote, entry, session or http_session())


def remove_bad_legacy_files(cache_root: Path) -> None:
    """live-style 0.1 could cache a web page as a .tflite file; remove such files (with a note)."""
    folder = cache_root / LEGACY_LITE_FOLDER
    for path in sorted(folder.glob("*.tflite")) if folder.is_dir() else []:
        role = "predict" if "predict" in path.name else "transfer"
        try:
            check_model(path, role)
        except BadModel as problem:
            log.warning(f"note: removed {path} left by an older live-style ({problem})")
            path.unlink()
