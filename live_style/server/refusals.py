"""How the studio refuses: a JSON reason with the security headers, and one log line, escaped and rate-limited.

Anything a client sent (a path, a header) is made printable and cut before it is logged or echoed: a `%0a`
cannot forge a log line, an escape sequence cannot reach the terminal, a long header cannot fill the log.
Any web page the user visits can make the browser send requests here, so refusals are logged at most
LINES_PER_S a second; the rest are counted and reported in one line when logging resumes.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
ECHOED_CHARS = 100  # the most of any client's text a log line or a reply repeats
LINES_PER_S = 10
log = logging.getLogger(__name__)


def printable(text: object, limit: int = ECHOED_CHARS) -> str:
    """A client's text safe to log or echo: control and non-printable characters escaped, cut to `limit`."""
    text = str(text)
    escaped = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text[: limit + 1])
    return escaped[:limit] + ("..." if len(escaped) > limit or len(text) > limit else "")


class RateLimitedLog:
    """At most `per_second` lines a second; the lines dropped are counted in the next one that goes out."""

    def __init__(self, per_second: int = LINES_PER_S):
        self.per_second, self.second, self.sent, self.dropped = per_second, 0, 0, 0

    def info(self, message: str, *args: object) -> None:
        second = int(time.monotonic())
        if second != self.second:
            self.second, self.sent = second, 0
        if self.sent >= self.per_second:
            self.dropped += 1
            return
        if self.dropped:
            log.info("(%d more lines like these were not logged)", self.dropped)
            self.dropped = 0
        self.sent += 1
        log.info(message, *args)


request_log = RateLimitedLog()


def refusal_response(status: int, reason: str) -> web.Response:
    """The studio's refusal: the status, {"error": reason} and the security headers."""
    response = web.json_response({"error": reason}, status=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def refusal(request: web.BaseRequest, status: int, reason: str) -> web.Response:
    """A refused request: one (rate-limited) log line, the status, and the reason as JSON."""
    request_log.info("refused %s %s (%d): %s", printable(request.method, 20), printable(request.path), status, reason)
    return refusal_response(status, reason)
