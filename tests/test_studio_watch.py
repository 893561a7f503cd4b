"""Watch mode's shared upload set under several viewers: a real `live-style serve --input` process, offers
from real aiortc peers, uploads over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from aiortc import RTCPeerConnection
from conftest import SHARED
from handheld import handheld_clip, write_frames
from studio import PAGE_HEADER, Server, http, post_json, run_async

from live_style.server.app import keep_ice_on_loopback
from live_style.styles import BUILTIN_FOLDER as BUILTIN_STYLES

keep_ice_on_loopback()


async def watch_offer() -> str:
    """A watching page's offer: the two streams in, the control channel out."""
    pc = RTCPeerConnection()
    pc.createDataChannel("controls")
    for _ in range(2):
        pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def open_session(server: Server) -> tuple[str, str]:
    """(page secret, session id) of a new viewer."""
    secret = server.page_secret()
    status, body = post_json(server, "/api/offer", {"sdp": run_async(watch_offer()), "type": "offer"}, secret)
    assert status == 200, body
    return secret, json.loads(body)["session"]


def upload(server: Server, secret: str, session: str, image: bytes) -> tuple[int, str]:
    headers = {PAGE_HEADER: secret, "Content-Type": "image/jpeg"}
    status, body, _ = http(f"{server.base}/api/sessions/{session}/styles", "POST", headers, image)
    return status, body


def test_a_full_shared_upload_set_says_whose_it_is_and_what_empties_it(cache_dir: Path, tmp_path: Path) -> None:
    photo = cv2.imread(str(SHARED / "media" / "chicago.jpg"))
    video = write_frames(tmp_path / "server-camera.mp4", handheld_clip(photo, "pan", frames=60, size=(320, 240)))
    args = ("--input", str(video), "--style", str(BUILTIN_STYLES), "--stall-timeout", "60")
    server = Server(*args, cache=cache_dir, log=tmp_path / "serve.log")
    rng = np.random.default_rng(7)
    images = [cv2.imencode(".jpg", rng.integers(0, 256, (64, 64, 3), np.uint8))[1].tobytes() for _ in range(9)]
    try:
        viewers = {name: open_session(server) for name in "ABC"}
        for image in images[:8]:
            assert upload(server, *viewers["B"], image)[0] == 200
        assert post_json(server, f"/api/sessions/{viewers['B'][1]}/close", {}, viewers["B"][0])[0] == 204
        for name in "AC":
            status, body = upload(server, *viewers[name], images[8])
            reason = json.loads(body)["error"]
            assert status == 429 and "everyone watching shares" in reason and "server restarts" in reason, reason
    finally:
        assert server.stop() == 0
