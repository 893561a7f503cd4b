"""The studio attacked the way a hostile web page, a broken client or a careless one would: a real
`live-style serve` on 127.0.0.1, real HTTP, real aiortc clients, a real Chromium on another origin.

After each attack the server must have answered with a 4xx and a reason, logged no traceback, and
kept its slots: a real client gets stylized frames right after.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gc
import json
import logging
import random
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from aiortc.rtcsctptransport import WEBRTC_STRING
from conftest import CHROMIUM, SHARED
from handheld import handheld_clip
from studio import (
    PAGE_HEADER,
    Client,
    Server,
    http,
    post_json,
    reset_rss_peak,
    rss_mb,
    rss_peak_mb,
    run_async,
)

from live_style.server.app import keep_ice_on_loopback
from live_style.server.limits import HEADER_TIMEOUT_S
from live_style.styles import BUILTIN_FOLDER as BUILTIN_STYLES

keep_ice_on_loopback()  # the clients' media stays on 127.0.0.1 too
STALL_S = 3
MAX_SESSIONS = 2


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    photo = cv2.imread(str(SHARED / "media" / "chicago.jpg"))
    return handheld_clip(photo, "pan", frames=30, size=(320, 240), noise=2.0)


@pytest.fixture(scope="module")
def studio(cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default localhost studio, two slots, a short stall timeout."""
    args = ("--style", str(BUILTIN_STYLES), "--max-sessions", str(MAX_SESSIONS), "--stall-timeout", str(STALL_S))
    args += ("--precision", "float32")  # no int8 quantizing in the background to blur memory and timing
    server = Server(*args, cache=cache_dir, log=tmp_path_factory.mktemp("attacked") / "serve.log")
    yield server
    assert server.stop() == 0, server.errors()
    assert "Traceback" not in server.errors(), server.errors()


def assert_no_traceback(server: Server) -> None:
    assert "Traceback" not in server.errors(), server.errors()


async def every_slot_serves(server: Server, clip: list[np.ndarray]) -> None:
    """Every slot takes a real client that gets stylized frames back (within the stall timeout of any leak)."""
    clients = [Client(server, clip) for _ in range(MAX_SESSIONS)]
    try:
        deadline = time.monotonic() + STALL_S + 20
        for client in clients:
            while (status := (await client.connect())[0]) == 503 and time.monotonic() < deadline:
                await client.close()
                client.__init__(server, clip)
                await asyncio.sleep(0.25)
            assert status == 200, f"a slot did not come back: {status}; {server.errors()}"
        for client in clients:
            frame = (await client.stylized(3))[-1]
            assert frame.shape == clip[0].shape
            nearest = min(float(cv2.absdiff(frame, source).mean()) for source in clip)
            assert nearest > 20, f"the frames that came back are not stylized ({nearest:.1f})"
    finally:
        for client in clients:
            await close(client)


async def close(client: Client) -> None:
    """Leave as the page does: the close request, then the peer connection."""
    if client.session:
        path = f"/api/sessions/{client.session}/close"
        await asyncio.to_thread(post_json, client.server, path, {}, client.secret)
    await client.close()


def ponged(client: Client, ping: float) -> bool:
    """Whether the server answered this ping (with its clock, a number)."""
    return any(
        reply.get("pong") == ping and isinstance(reply.get("server_clock_ms"), float) for reply in client.replies
    )


async def real_offer(server: Server, clip: list[np.ndarray]) -> str:
    client = Client(server, clip)
    sdp = await client.offer()
    await client.close()
    return sdp


# --- the guard -----------------------------------------------------------------------------------


def test_other_host_names_and_origins_are_refused_before_any_handler(studio: Server) -> None:
    secret = studio.page_secret()
    offer = {"sdp": "v=0", "type": "offer"}
    for path in ("/", "/api/config", "/static/studio.js"):
        assert http(studio.base + path, headers={"Host": f"evil.example:{studio.port}"})[0] == 421
        assert http(studio.base + path, headers={"Origin": "http://evil.example"})[0] == 403
        assert http(studio.base + path, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    for host in (f"localhost:{studio.port}", f"[::1]:{studio.port}", "127.0.0.1"):
        assert http(studio.base + "/api/config", headers={"Host": host})[0] == 200
    # another local web server's page is "same-site" to the browser: refused too
    assert http(studio.base + "/api/config", headers={"Sec-Fetch-Site": "same-site"})[0] == 403
    # a link from another site may open the page itself (it runs only the studio's own script)
    navigation = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    status, _, headers = http(studio.base + "/", headers=navigation)
    assert status == 200 and "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    # state changes: the page secret, and JSON only
    status, body = post_json(studio, "/api/offer", offer, None)
    assert status == 403 and "studio's page" in json.loads(body)["error"]
    assert post_json(studio, "/api/offer", offer, "forged.0000")[0] == 403
    status, body, _ = http(
        studio.base + "/api/offer",
        "POST",
        {"Content-Type": "text/plain", PAGE_HEADER: secret},
        json.dumps(offer).encode(),
    )
    assert status == 415 and "application/json" in body
    status, body = post_json(studio, "/api/offer", offer, secret, Origin="http://evil.example")
    assert status == 403
    assert_no_traceback(studio)


def test_a_session_answers_only_to_the_page_that_opened_it(studio: Server, clip: list[np.ndarray]) -> None:
    async def scenario() -> None:
        owner = Client(studio, clip)
        assert (await owner.connect())[0] == 200
        assert len(owner.session) >= 20 and owner.session not in ("s1", "s2", "1")
        await owner.stylized(2)
        other_page = await asyncio.to_thread(studio.page_secret)
        close_path = f"/api/sessions/{owner.session}/close"
        for secret in (other_page, None):
            status, _ = await asyncio.to_thread(post_json, studio, close_path, {}, secret)
            assert status in (403, 404)
        upload = f"{studio.base}/api/sessions/{owner.session}/styles"
        painting = (SHARED / "styles" / "wave.jpg").read_bytes()
        status, _, _ = await asyncio.to_thread(
            http, upload, "POST", {PAGE_HEADER: other_page, "Content-Type": "image/jpeg"}, painting
        )
        assert status == 404
        await owner.stylized(5)  # nobody else ended it
        await close(owner)

    run_async(scenario())
    assert_no_traceback(studio)


def test_a_page_on_another_origin_in_chromium_cannot_start_steer_or_read_the_studio(
    playwright, studio: Server, tmp_path: Path
) -> None:
    """A second local web server's page, and the studio's own port under a rebound name, in a real browser."""
    evil = (Path(__file__).with_name("evil_page.html")).read_text().replace("STUDIO_PORT", str(studio.port))
    (tmp_path / "evil.html").write_text(evil)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    site = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    started, refused = studio.errors().count("started"), studio.errors().count("refused POST /api/offer (403)")
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--host-resolver-rules=MAP evil.test 127.0.0.1"]
    )
    try:
        page = browser.new_page()
        page.goto(f"http://evil.test:{site.server_address[1]}/evil.html")
        page.wait_for_function("window.done === true", timeout=30_000)
        results = page.evaluate("window.results")
        assert results["read config"].startswith("failed"), results
        assert results["offer as JSON"].startswith("failed"), results
        assert results["rebound config"].startswith("failed"), results
        # the DNS-rebinding form: the studio's own port under the attacker's name
        response = page.goto(f"http://evil.test:{studio.port}/")
        assert response.status == 421 and 'id="stylized"' not in page.content()
    finally:
        browser.close()
        site.shutdown()
    assert studio.errors().count("started") == started, "a page on another origin started a session"
    # the blind text/plain fetch and the form did reach the server, and were refused there
    assert studio.errors().count("refused POST /api/offer (403)") >= refused + 2, studio.errors()
    assert_no_traceback(studio)


# --- offers ----------------------------------------------------------------------------------------


def broken_offers(sdp: str) -> dict[str, str]:
    """A real offer bent the ways the attack table lists."""
    lines = sdp.splitlines()
    video = next(i for i, line in enumerate(lines) if line.startswith("m=video"))
    candidate = next(i for i, line in enumerate(lines) if line.startswith("a=candidate"))
    no_codecs = [line for line in lines if not line.startswith(("a=rtpmap", "a=fmtp", "a=rtcp-fb"))]
    return {
        "BUNDLE of unknown sections": sdp.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 99 0"),
        "video without a payload list": "\r\n".join(
            [*lines[:video], "m=video 9 UDP/TLS/RTP/SAVPF", *lines[video + 1 :]]
        ),
        "video without codecs": "\r\n".join(no_codecs),
        "a malformed candidate": "\r\n".join(
            [*lines[: candidate + 1], "a=candidate:1 1 UDP x", *lines[candidate + 1 :]]
        ),
        "audio only": sdp.replace("m=video", "m=audio"),
        "no ICE credentials": "\r\n".join(line for line in lines if not line.startswith("a=ice-")),
        "empty": "",
    }


def test_malformed_offers_are_400_with_a_reason_and_take_no_slot(studio: Server, clip: list[np.ndarray]) -> None:
    sdp = run_async(real_offer(studio, clip))
    secret = studio.page_secret()
    for value in (1, None, {}, [], True):
        status, body = post_json(studio, "/api/offer", {"sdp": value, "type": "offer"}, secret)
        assert status == 400 and "sdp" in json.loads(body)["error"], (value, body)
    for name, broken in broken_offers(sdp).items():
        status, body = post_json(studio, "/api/offer", {"sdp": broken, "type": "offer"}, secret)
        assert status == 400, (name, status, body)
        assert json.loads(body)["error"], name
    assert post_json(studio, "/api/offer", {"sdp": sdp, "type": "answer"}, secret)[0] == 400
    for depth, status in ((5000, 400), (100_000, 413)):
        deep = '{"a":' * depth + "1" + "}" * depth
        headers = {"Content-Type": "application/json", PAGE_HEADER: secret}
        assert http(studio.base + "/api/offer", "POST", headers, deep.encode())[0] == status
    assert http(studio.base + "/static/" + "a" * 300)[0] == 404
    run_async(every_slot_serves(studio, clip))
    assert_no_traceback(studio)


def test_an_ice_flood_is_refused_while_the_server_keeps_answering(studio: Server, clip: list[np.ndarray]) -> None:
    sdp = run_async(real_offer(studio, clip))
    secret = studio.page_secret()
    candidate = next(line for line in sdp.splitlines() if line.startswith("a=candidate"))
    at = sdp.index(candidate)
    floods = {
        "15,000 candidates (0.9 MB)": 15_000,
        "700 candidates under the byte cap": 700,
    }
    for name, count in floods.items():
        flood = sdp[:at] + (candidate + "\r\n") * count + sdp[at:]
        with concurrent.futures.ThreadPoolExecutor(1) as sender:
            answer = sender.submit(post_json, studio, "/api/offer", {"sdp": flood, "type": "offer"}, secret)
            slowest = 0.0
            while not answer.done() or slowest == 0.0:
                start = time.perf_counter()
                assert http(studio.base + "/api/config")[0] == 200
                slowest = max(slowest, time.perf_counter() - start)
            status, body = answer.result()
        assert status in (400, 413) and ("candidates" in body or "bytes" in body), (name, status, body)
        assert slowest < 0.1, f"/api/config took {slowest * 1000:.0f} ms during {name}"
    assert_no_traceback(studio)


def mutate(sdp: str, rng: random.Random) -> str:
    """One random bend of an offer: a line dropped, doubled, swapped, cut, or a field replaced."""
    lines = sdp.splitlines()
    junk = ["", "0", "-1", "99999999999999999999", "x" * 300, "é∆", "a=", "m=video", ":", "IN IP4 ::1", "\x00"]
    for _ in range(rng.randint(1, 4)):
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        kind = rng.randrange(5)
        if kind == 0:
            del lines[i]
        elif kind == 1:
            lines.insert(i, lines[j])
        elif kind == 2:
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == 3:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        else:
            words = lines[i].split(" ")
            words[rng.randrange(len(words))] = rng.choice(junk)
            lines[i] = " ".join(words)
    return "\r\n".join(lines) + "\r\n"


def test_fuzzed_offers_never_get_a_5xx_or_leak_a_slot(studio: Server, clip: list[np.ndarray]) -> None:
    sdp = run_async(real_offer(studio, clip))
    secret = studio.page_secret()
    rng = random.Random(27)
    statuses: dict[int, int] = {}
    for _ in range(150):
        status, body = post_json(studio, "/api/offer", {"sdp": mutate(sdp, rng), "type": "offer"}, secret)
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (status, body)
        if status == 200:  # still a valid offer: nobody will connect it, so leave as a page would
            post_json(studio, f"/api/sessions/{json.loads(body)['session']}/close", {}, secret)
    assert statuses.get(400, 0) > 50, statuses  # the bends do reach the checks
    run_async(every_slot_serves(studio, clip))
    assert_no_traceback(studio)


def test_offers_nobody_connects_free_their_slots_within_the_stall_timeout(
    studio: Server, clip: list[np.ndarray]
) -> None:
    async def scenario() -> None:
        ghosts = [Client(studio, clip) for _ in range(MAX_SESSIONS)]
        for ghost in ghosts:  # valid offers whose answers are never taken: no ICE, no video
            status, _ = await asyncio.to_thread(
                post_json, studio, "/api/offer", {"sdp": await ghost.offer(), "type": "offer"}, studio.page_secret()
            )
            assert status == 200
        late = Client(studio, clip)
        status, body = await late.connect()
        assert status == 503 and "busy" in body
        await late.close()
        for ghost in ghosts:
            await ghost.close()
        await every_slot_serves(studio, clip)  # retries until the stall timeout has freed them

    run_async(scenario())
    assert studio.errors().count(f"no video arrived within {STALL_S:g} s") >= MAX_SESSIONS
    assert_no_traceback(studio)


def test_an_error_of_a_task_nobody_awaits_is_one_line_not_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """aiortc's connecting task fails on its closed ICE transport when a page leaves mid-handshake, and nothing
    awaits it: asyncio logged "Task exception was never retrieved" and a traceback (once in CI, under load)."""
    from aiortc.exceptions import InvalidStateError

    from live_style.server.run import log_unawaited_errors

    async def connect() -> None:  # as aiortc's RTCPeerConnection.__connect failed
        raise InvalidStateError("RTCIceTransport is closed")

    async def scenario() -> None:
        log_unawaited_errors(asyncio.get_running_loop())
        task = asyncio.ensure_future(connect())  # dropped, as aiortc drops it
        await asyncio.sleep(0.01)
        del task
        gc.collect()

    with caplog.at_level(logging.INFO):
        run_async(scenario())  # its own loop: a session-wide Playwright holds this thread's
    (line,) = [record for record in caplog.records if "never retrieved" in record.getMessage()]
    assert line.exc_info is None and "RTCIceTransport is closed" in line.getMessage()


# --- the data channel ------------------------------------------------------------------------------


def test_bad_control_messages_get_an_error_reply_and_the_session_goes_on(
    studio: Server, clip: list[np.ndarray]
) -> None:
    rng = random.Random(32)
    messages = [
        "[" * 5000 + "]" * 5000,  # over the size cap
        "[" * 2000 + "]" * 2000,  # under it, too deep
        '{"a":' * 5000 + "1" + "}" * 5000,
        "not json",
        "null",
        "[1, 2]",
        '{"style": "wave"}',
        '{"strength": NaN}',
        '{"size": 1e308}',
        '{"ping": {"x": 1}}',
        '{"second": -1}',
        "x" * 100_000,
    ]
    keys = ["style", "second", "mix", "strength", "size", "preserve_colors", "stabilize", "ping", "other"]
    values = [None, True, -1, 0, 0.5, 1, 3, 1e9, float("inf"), "1", [], {}, [[[1]]]]
    for _ in range(150):
        message = {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(1, 3))}
        messages.append(json.dumps(message))

    async def scenario() -> None:
        client = await streaming_client(studio, clip)
        for message in messages:
            client.send(message)
        client.send(json.dumps({"ping": 12345}))
        await client.wait_for(lambda: ponged(client, 12345), 30, "the pong after the bad messages")
        errors = [reply for reply in client.replies if "error" in reply]
        assert len(errors) >= 11, f"{len(errors)} error replies"
        assert any("deeper" in reply["error"] for reply in errors)
        await client.stylized(5)  # the session goes on
        await close(client)

    run_async(scenario())
    assert_no_traceback(studio)


async def streaming_client(studio: Server, clip: list[np.ndarray]) -> Client:
    """A client whose session is up: its control channel open and stylized frames coming."""
    client = Client(studio, clip)
    assert (await client.connect())[0] == 200
    await client.wait_for(lambda: client.channel.readyState == "open", 30, "the control channel")
    await client.stylized(2)
    return client


async def send_as_text(client: Client, data: bytes) -> None:
    """`data` as a string message (PPID 51) whatever its bytes: what a broken or hostile peer can send."""
    transport = client.channel.transport
    transport._data_channel_queue.append((client.channel, WEBRTC_STRING, data))
    await transport._data_channel_flush()


def test_string_messages_that_are_not_utf8_get_an_error_reply_and_the_session_goes_on(
    studio: Server, clip: list[np.ndarray]
) -> None:
    broken = [b"\xff", b'{"ping": 1}\xc3', b"\xed\xa0\x80", b'{"style": 0, "x": "\xc0\xaf"}']

    async def scenario() -> None:
        client = await streaming_client(studio, clip)
        for data in broken:
            await send_as_text(client, data)
        client.send(json.dumps({"ping": 39}))
        await client.wait_for(lambda: ponged(client, 39), 10, "the pong after the broken messages")
        errors = [reply["error"] for reply in client.replies if "error" in reply]
        assert len(errors) == len(broken) and all("UTF-8" in error for error in errors), errors
        await client.stylized(10)  # the session goes on
        await close(client)

    run_async(scenario())
    assert_no_traceback(studio)


# --- uploads and connections ------------------------------------------------------------------------


def huge_png() -> bytes:
    """An 8000x5000 RGBA PNG: 155 kB on the wire, 160 MB decoded."""
    rgba = np.zeros((5000, 8000, 4), np.uint8)
    rgba[::50, :, :] = 255
    return cv2.imencode(".png", rgba)[1].tobytes()


def test_parallel_huge_uploads_keep_memory_bounded_and_nothing_lands_in_the_cache(
    studio: Server, clip: list[np.ndarray], cache_dir: Path
) -> None:
    png = huge_png()
    vectors_before = sorted((cache_dir / "style-vectors").glob("*.npy"))

    async def scenario() -> tuple[list[int], float, float]:
        client = Client(studio, clip)
        assert (await client.connect())[0] == 200
        await client.stylized(2)
        url = f"{studio.base}/api/sessions/{client.session}/styles"
        headers = {PAGE_HEADER: client.secret, "Content-Type": "image/png"}
        before = rss_mb(studio.process.pid)
        reset_rss_peak(studio.process.pid)
        loop = asyncio.get_running_loop()
        # threads of their own: aiortc encodes the client's camera on the loop's default executor
        with concurrent.futures.ThreadPoolExecutor(13) as threads:
            uploads = [loop.run_in_executor(threads, http, url, "POST", headers, png, 120) for _ in range(12)]
            slowest = 0.0
            gathered = asyncio.gather(*uploads)
            while not gathered.done():
                start = time.perf_counter()
                await loop.run_in_executor(threads, http, studio.base + "/api/config")
                slowest = max(slowest, time.perf_counter() - start)
            statuses = [status for status, _, _ in await gathered]
        growth = rss_peak_mb(studio.process.pid) - before
        await client.stylized(3)
        await close(client)
        return statuses, growth, slowest

    statuses, growth, slowest = run_async(scenario())
    print(f"12 parallel 40 MP uploads: peak RSS growth {growth:.0f} MB, slowest /api/config {slowest * 1000:.0f} ms")
    assert sorted(statuses) == [200] * 8 + [429] * 4, statuses  # 8 styles a session at most
    assert growth < 350, f"the server grew {growth:.0f} MB"  # one decode at a time: ~200 MB measured
    assert sorted((cache_dir / "style-vectors").glob("*.npy")) == vectors_before
    assert_no_traceback(studio)


def noise_png(megabytes: float) -> bytes:
    """A PNG of random pixels: as big on the wire as decoded."""
    side = int((megabytes * 2**20 / 3) ** 0.5)
    return cv2.imencode(".png", np.random.default_rng(39).integers(0, 256, (side, side, 3), np.uint8))[1].tobytes()


def test_parallel_uploads_past_the_cap_are_refused_unread_and_memory_stays_flat(
    studio: Server, clip: list[np.ndarray]
) -> None:
    """120 parallel uploads of a 9.8 MB PNG into a session's set, then 120 more into the full set."""
    png = noise_png(9.8)
    assert len(png) > 9.5 * 2**20

    async def scenario() -> list[tuple[list[int], float, float]]:
        client = Client(studio, clip)
        assert (await client.connect())[0] == 200
        await client.stylized(2)
        url = f"{studio.base}/api/sessions/{client.session}/styles"
        headers = {PAGE_HEADER: client.secret, "Content-Type": "image/png"}
        loop = asyncio.get_running_loop()
        rounds = []
        with concurrent.futures.ThreadPoolExecutor(120) as threads:
            for _ in range(2):
                before = rss_mb(studio.process.pid)
                reset_rss_peak(studio.process.pid)
                uploads = [loop.run_in_executor(threads, http, url, "POST", headers, png, 120) for _ in range(120)]
                statuses = [status for status, _, _ in await asyncio.gather(*uploads)]
                peak, after = rss_peak_mb(studio.process.pid), rss_mb(studio.process.pid)
                rounds.append((statuses, peak - before, after - before))
                print(f"120 parallel 9.8 MB uploads: RSS {before:.0f} -> peak {peak:.0f} -> {after:.0f} MB")
        await client.stylized(3)
        await close(client)
        return rounds

    start = len(studio.errors().splitlines())
    (filling, fill_peak, _), (full, full_peak, full_after) = run_async(scenario())
    assert sorted(filling) == [200] * 8 + [429] * 112, filling
    assert full == [429] * 120, full
    assert fill_peak < 350, f"filling the set grew the server {fill_peak:.0f} MB at its peak"
    assert full_peak < 100 and full_after < 50, f"refusals grew the server {full_peak:.0f} MB ({full_after:.0f} after)"
    lines = new_log_lines(studio, start)
    print(f"{len(lines)} log lines for 232 refusals")
    assert "reload the page" in studio.errors()
    assert_no_traceback(studio)


def test_bodies_read_at_once_share_one_budget(studio: Server) -> None:
    """Offers that promise 64 kB and stall: past the shared budget (24 MB) the next is refused at once."""
    secret = studio.page_secret()
    promise = (
        f"POST /api/offer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{PAGE_HEADER}: {secret}\r\nContent-Length: {64 * 1024}\r\n\r\n"
    ).encode() + b'{"sdp": "'
    stalled = []
    try:
        for _ in range(24 * 16):  # 24 MB of promised bodies
            stalled.append(raw_request(studio.port, promise))
        time.sleep(0.5)
        start = time.monotonic()
        head, _, start_of_body = promise.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n").partition(b"\r\n\r\n")
        offer = (start_of_body + b'v=0", "type": "offer"}').ljust(64 * 1024)
        status, _, body = raw_exchange(studio.port, head + b"\r\n\r\n" + offer)
        assert status == 503 and "other requests" in json.loads(body)["error"], (status, body)
        assert time.monotonic() - start < 2
    finally:
        for sock in stalled:
            sock.close()
    assert_no_traceback(studio)


def test_a_phone_mpo_is_taken_as_its_first_picture(studio: Server, clip: list[np.ndarray]) -> None:
    from PIL import Image

    painting = Image.open(SHARED / "styles" / "the_scream.jpg")
    mpo = Path(studio.log).with_name("phone.mpo")
    painting.save(mpo, "MPO", save_all=True, append_images=[painting.transpose(Image.Transpose.ROTATE_180)])

    async def scenario() -> dict:
        client = Client(studio, clip)
        assert (await client.connect())[0] == 200
        url = f"{studio.base}/api/sessions/{client.session}/styles"
        headers = {PAGE_HEADER: client.secret, "Content-Type": "image/jpeg"}
        status, body, _ = await asyncio.to_thread(http, url, "POST", headers, mpo.read_bytes())
        await close(client)
        assert status == 200, body
        return json.loads(body)

    assert run_async(scenario())["name"].startswith("upload ")


def raw_request(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=HEADER_TIMEOUT_S + 10)
    sock.sendall(data)
    return sock


def test_stalled_and_abandoned_requests_hold_nothing(studio: Server, clip: list[np.ndarray]) -> None:
    secret = studio.page_secret()
    trickle = raw_request(studio.port, b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    body_promised = (
        f"POST /api/offer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{PAGE_HEADER}: {secret}\r\nContent-Length: 60000\r\n\r\n"
    ).encode()
    stalled_body = raw_request(studio.port, body_promised + b'{"sdp": "v=0')
    abandoned = raw_request(studio.port, body_promised + b'{"sdp": "v=0')
    abandoned.close()
    assert http(studio.base + "/api/config", timeout=1)[0] == 200  # nobody waits behind them
    reply = stalled_body.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 408"), reply
    start = time.monotonic()
    assert trickle.recv(4096) == b"", "a connection with half a request was kept"
    assert time.monotonic() - start < HEADER_TIMEOUT_S + 5
    for sock in (trickle, stalled_body):
        sock.close()
    run_async(every_slot_serves(studio, clip))
    assert_no_traceback(studio)


# --- what aiohttp refuses before the app, and what the log repeats -----------------------------------

LOG_LINES_PER_S = 10  # the studio's rate limit on refusal lines (live_style.server.refusals.LINES_PER_S)


def raw_exchange(port: int, data: bytes) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of one raw request on its own connection (read to the close)."""
    with raw_request(port, data) as sock:
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    return int(status_line.split()[1]), {name.lower(): value for name, value in headers.items()}, body.decode()


def assert_studio_refusal(status: int, headers: dict[str, str], body: str, what: str) -> None:
    """A 4xx in the studio's format: JSON with the reason, and the security headers."""
    assert 400 <= status < 500, (what, status, body)
    assert headers.get("content-type", "").startswith("application/json"), (what, headers)
    assert json.loads(body)["error"], (what, body)
    for name in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert name in headers, (what, name, headers)
    assert headers.get("cross-origin-resource-policy") == "same-origin", (what, headers)


def new_log_lines(server: Server, start: int) -> list[str]:
    return server.errors().splitlines()[start:]


def refusal_lines(server: Server, start: int) -> list[str]:
    """The new log lines that refuse a request (not the rate limit's count of lines it dropped)."""
    return [line for line in new_log_lines(server, start) if not line.endswith("were not logged)")]


def log_start(server: Server) -> int:
    """The log's length, once the rate limit's second has passed (an earlier test may have spent it)."""
    time.sleep(1.1)
    return len(server.errors().splitlines())


UNREADABLE = {
    "a 9 kB request line": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "two Host headers": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n",
    "no Host": b"GET /api/config HTTP/1.1\r\nConnection: close\r\n\r\n",
    "a control character in a header": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A\x01: b\r\n\r\n",
    "HTTP/1.2": b"GET / HTTP/1.2\r\nHost: 127.0.0.1\r\n\r\n",
}


def test_requests_aiohttp_cannot_read_are_one_rate_limited_line_each_and_the_studios_refusal(studio: Server) -> None:
    """A page firing `new Image()` at a 9 kB URL, and the other ways a request fails in aiohttp's parser."""
    start = log_start(studio)
    for what, data in UNREADABLE.items():
        assert_studio_refusal(*raw_exchange(studio.port, data), what)
    assert len(refusal_lines(studio, start)) == len(UNREADABLE), refusal_lines(studio, start)
    start, began = log_start(studio), time.monotonic()
    sent = 0
    while sent < 1000 and time.monotonic() - began < 10:
        raw_exchange(studio.port, UNREADABLE["a 9 kB request line"])
        sent += 1
    seconds = time.monotonic() - began
    lines = new_log_lines(studio, start)
    print(f"{sent} unreadable requests in {seconds:.1f} s: {len(lines)} log lines")
    assert len(lines) <= LOG_LINES_PER_S * (seconds + 2), lines[:20]
    assert all(len(line) < 300 for line in lines), max(lines, key=len)
    assert_no_traceback(studio)


def test_aiohttps_own_404_and_405_are_the_studios_refusals(studio: Server) -> None:
    cases = {
        "an unknown path": b"GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "/static/": b"GET /static/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "POST /": b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "OPTIONS /api/offer": b"OPTIONS /api/offer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "TRACE /": b"TRACE / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "GET /api/offer": b"GET /api/offer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    }
    start = log_start(studio)
    for what, data in cases.items():
        status, headers, body = raw_exchange(studio.port, data)
        assert_studio_refusal(status, headers, body, what)
        assert status == (404 if what in ("an unknown path", "/static/") else 405), (what, status)
    lines = refusal_lines(studio, start)
    assert len(lines) == len(cases) and all(line.startswith("refused ") for line in lines), lines
    assert_no_traceback(studio)


def test_what_a_request_carries_is_escaped_and_cut_before_it_is_logged_or_echoed(studio: Server) -> None:
    start = log_start(studio)
    for path in ("/x%0arefused%20GET%20/forged%20(404):%20a%20forged%20line", "/x%1b[2J%1b[31mred", "/x%00%7f%c2%85"):
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        status, _, body = raw_exchange(studio.port, request.encode())
        assert status == 404 and "\x1b" not in body and "\n" not in json.loads(body)["error"], (path, body)
    status, body, _ = http(studio.base + "/api/config", headers={"Sec-Fetch-Site": "cross-" + "x" * 8000})
    assert status == 403 and len(json.loads(body)["error"]) < 300, len(body)
    lines = refusal_lines(studio, start)
    assert len(lines) == 4, lines
    assert not any(line.startswith("refused GET /forged") for line in lines), lines
    assert not any(char in studio.errors() for char in "\x1b\x00\x7f\x85"), lines
    assert all(len(line) < 400 for line in lines), max(lines, key=len)


def test_clients_that_leave_mid_download_are_one_line_at_most(studio: Server) -> None:
    start = log_start(studio)
    for _ in range(30):  # pipelined downloads of the script into a tiny window, then a reset
        sock = raw_request(studio.port, b"GET /static/studio.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 200)
        time.sleep(0.01)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    time.sleep(1)
    lines = new_log_lines(studio, start)
    print(f"30 downloads cut off: {len(lines)} log lines")
    assert len(lines) <= LOG_LINES_PER_S * 3 and all("\n" not in line for line in lines), lines
    assert not any("Unhandled exception" in line for line in lines), lines
    assert http(studio.base + "/static/studio.js")[0] == 200
    assert_no_traceback(studio)
