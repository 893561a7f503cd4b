"""The studio's HTTP connections: aiohttp's handler, with the studio's refusal for what fails before any route.

A request aiohttp's parser rejects (a request line over 8,190 bytes, a duplicate Host, a bad header
character, HTTP/1.2) never reaches the app's guard; aiohttp would log it with a traceback and answer
in plain text. Here it gets one rate-limited log line and the studio's JSON refusal with its security
headers; a client that leaves mid-response (a download cut off) gets one line too.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from live_style.server.refusals import printable, refusal_response, request_log


def unreadable_reason(exc: BaseException | None) -> str:
    """What was wrong with a request aiohttp could not read, on one line."""
    lines = exc.message.strip().splitlines() if isinstance(exc, HttpProcessingError) else []
    return printable(lines[0] if lines else type(exc).__name__)


class StudioProtocol(RequestHandler):
    """aiohttp's connection handler with the studio's refusals and one-line logging."""

    def handle_error(
        self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        """A request aiohttp could not read: one log line and the studio's refusal (a 500 keeps aiohttp's report)."""
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        reason = f"the request could not be read: {unreadable_reason(exc)}"
        request_log.info("refused a request from %s (%d): %s", printable(request.remote), status, reason)
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already under way")
        response = refusal_response(status, reason)
        response.force_close()
        return response

    def log_exception(self, message: str, *args: object, exc_info: BaseException | None = None, **kw: object) -> None:
        """A client that left mid-response (a download cut off): one rate-limited line; anything else, in full."""
        if not isinstance(exc_info, ConnectionError) and self.transport is not None and not self.transport.is_closing():
            super().log_exception(message, *args, exc_info=exc_info, **kw)
            return
        detail = f"{type(exc_info).__name__}: {exc_info}" if exc_info is not None else "the connection closed"
        request_log.info("a client left mid-response: %s", printable(detail))
