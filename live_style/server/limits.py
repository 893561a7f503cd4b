"""Bounded work per request: bodies read with a byte cap and a deadline (and within a budget shared by all
requests at once), JSON parsed with a depth cap.

Every refusal is a `Refused` carrying the HTTP status and the reason the client is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator

from aiohttp import web

BODY_TIMEOUT_S = 10.0  # the whole body, however slowly a client sends it
HEADER_TIMEOUT_S = 10.0  # a connection that has not sent a complete request by then is closed
JSON_MAX_DEPTH = 8
BODY_BYTES_AT_ONCE = 24 * 1024 * 1024  # what all the bodies being read may hold together


class Refused(Exception):
    """A request the studio will not serve: `status` (4xx) and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


class ByteBudget:
    """Bytes that the bodies of all requests may hold at once; a request that does not fit is refused."""

    def __init__(self, total: int):
        self.total, self.held = total, 0

    @contextlib.contextmanager
    def hold(self, size: int, what: str) -> Iterator[None]:
        """`size` bytes of the budget while the body is read; Refused (503) when they are not free."""
        if self.held + size > self.total:
            raise Refused(503, f"the server is reading other requests; send {what} again in a moment")
        self.held += size
        try:
            yield
        finally:
            self.held -= size


bodies = ByteBudget(BODY_BYTES_AT_ONCE)


async def read_body(request: web.Request, limit: int, what: str) -> bytes:
    """The request's body, at most `limit` bytes, within BODY_TIMEOUT_S and the shared budget; Refused (413, 408,
    400, 503) otherwise."""
    too_big = Refused(413, f"{what} is over {limit:,} bytes, the most this server reads")
    if request.content_length is not None and request.content_length > limit:
        raise too_big
    chunks: list[bytes] = []

    async def read_all() -> None:
        size = 0
        while chunk := await request.content.read(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)

    try:
        with bodies.hold(min(request.content_length or limit, limit), what):
            await asyncio.wait_for(read_all(), BODY_TIMEOUT_S)
    except asyncio.TimeoutError:
        raise Refused(408, f"{what} did not arrive within {BODY_TIMEOUT_S:g} s") from None
    except (ConnectionError, asyncio.IncompleteReadError, web.HTTPException) as error:
        raise Refused(400, f"{what} was cut off ({type(error).__name__})") from None
    return b"".join(chunks)


def json_depth(text: str) -> int:
    """How deeply the arrays and objects in a JSON text nest (strings skipped), without parsing it: one pass."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json_object(data: bytes | str, what: str, max_bytes: int) -> dict:
    """A JSON object of at most `max_bytes` nested at most JSON_MAX_DEPTH deep, or Refused (400) naming `what`."""
    if len(data) > max_bytes:
        raise Refused(413, f"{what} is over {max_bytes:,} bytes")
    try:
        text = data.decode() if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise Refused(400, f"{what} is not UTF-8 text") from None
    if json_depth(text) > JSON_MAX_DEPTH:
        raise Refused(400, f"{what} nests deeper than {JSON_MAX_DEPTH} levels")
    try:
        value = json.loads(text)
    except ValueError as error:
        raise Refused(400, f"{what} is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} must be a JSON object")
    return value
