"""The studio under test: a real `live-style serve` process, plain HTTP to it, and a real aiortc client
that sends a clip as its camera and receives the stylized stream back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fractions
import json
import queue
import re
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av import VideoFrame
from conftest import ROOT, cli_argv, cli_env

STARTUP_S = 180
PAGE_HEADER = "X-Live-Style-Page"


class Server:
    """A `live-style serve --port 0` process; `url` is the address it printed."""

    def __init__(self, *args: str, cache: Path, log: Path):
        self.log = log
        self.process = subprocess.Popen(
            cli_argv("serve", "--port", "0", *args),
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
            env=cli_env(cache),
            cwd=ROOT,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True).start()
        try:
            line = lines.get(timeout=STARTUP_S)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"serve printed no URL in {STARTUP_S} s: {self.errors()}") from None
        assert "open http" in line, f"{line!r}; {self.errors()}"
        self.url = line.split("open ", 1)[1].strip()
        self.port = int(self.url.split(":")[2].split("/")[0])
        self.base = f"http://127.0.0.1:{self.port}"

    def errors(self) -> str:
        return self.log.read_text()

    def page_secret(self, headers: dict | None = None) -> str:
        """The secret a fresh load of the page carries."""
        status, page, _ = http(self.base + "/", headers=headers)
        assert status == 200, page
        return re.search(r'name="live-style-page" content="([^"]+)"', page).group(1)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=60)


def run_async(coroutine: Coroutine):
    """Run a coroutine on its own event loop in its own thread: a session-wide Playwright holds this thread's."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def http(
    url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None, timeout: float = 30
) -> tuple[int, str, dict]:
    """(status, body, headers) of one request, errors included."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def post_json(server: Server, path: str, message: object, secret: str | None, **headers: str) -> tuple[int, str]:
    """POST `message` as JSON with the page secret (when given); (status, body)."""
    sent = {"Content-Type": "application/json", **headers}
    if secret is not None:
        sent[PAGE_HEADER] = secret
    status, body, _ = http(server.base + path, "POST", sent, json.dumps(message).encode())
    return status, body


class ClipTrack(VideoStreamTrack):
    """A camera that plays `clip` (BGR frames) in a loop at 30 fps."""

    def __init__(self, clip: list[np.ndarray]):
        super().__init__()
        self.clip, self.sent = clip, 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self.clip[self.sent % len(self.clip)], format="bgr24")
        frame.pts, frame.time_base, self.sent = pts, time_base or fractions.Fraction(1, 90000), self.sent + 1
        return frame


@dataclass
class Client:
    """An aiortc peer that is a studio page: a camera clip out, the stylized stream and channel replies in."""

    server: Server
    clip: list[np.ndarray]
    secret: str = ""
    pc: RTCPeerConnection = field(default_factory=RTCPeerConnection)
    frames: list[np.ndarray] = field(default_factory=list)
    replies: list[dict] = field(default_factory=list)
    session: str = ""

    async def offer(self) -> str:
        """A real offer for a camera and a control channel (gathered, as a browser sends it)."""
        self.channel = self.pc.createDataChannel("controls")
        self.channel.on("message", lambda text: self.replies.append(json.loads(text)))
        self.pc.addTrack(ClipTrack(self.clip))
        self.pc.on("track", lambda track: self._tasks.append(asyncio.ensure_future(self._receive(track))))
        self._tasks: list[asyncio.Task] = []
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def connect(self, sdp: str | None = None) -> tuple[int, str]:
        """Send the offer (this one or our own); on 200 take the answer. (status, body)."""
        self.secret = self.secret or await asyncio.to_thread(self.server.page_secret)
        sdp = sdp or await self.offer()
        message = {"sdp": sdp, "type": "offer"}
        status, body = await asyncio.to_thread(post_json, self.server, "/api/offer", message, self.secret)
        if status == 200:
            answer = json.loads(body)
            self.session = answer["session"]
            await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        return status, body

    async def _receive(self, track) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                self.frames.append(frame.to_ndarray(format="bgr24"))

    async def wait_for(self, condition, seconds: float, what: str) -> None:
        """Until `condition()` holds; fail naming `what` after `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not condition():
            if loop.time() > deadline:
                raise AssertionError(f"{what} did not happen within {seconds:g} s; server log:\n{self.server.errors()}")
            await asyncio.sleep(0.1)

    async def stylized(self, count: int, seconds: float = 90) -> list[np.ndarray]:
        """The next `count` frames the server sends back."""
        start = len(self.frames)
        await self.wait_for(lambda: len(self.frames) >= start + count, seconds, f"{count} stylized frames")
        return self.frames[start : start + count]

    def send(self, text: str) -> None:
        self.channel.send(text)

    async def close(self) -> None:
        for task in getattr(self, "_tasks", []):
            task.cancel()
        await self.pc.close()


def rss_peak_mb(pid: int) -> float:
    """The process's peak resident memory since the last `reset_rss_peak` (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def reset_rss_peak(pid: int) -> None:
    """Start VmHWM again from the current RSS (Linux: 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
