"""Who may use the studio: its own page, on a host name it answers to, and nobody else.

A server on the user's machine that holds a camera must assume that every web page the user visits
can send it requests. Three checks stand between such a page and the studio:

- **Host** must name this server (loopback names, the `--host` address, `--allow-host` names, and
  for a wildcard bind this machine's names and interface addresses): a DNS-rebound name is refused with
  421, so another site's page can never read a response.
- **Origin**, when a browser sends one, must be the server's own (`Sec-Fetch-Site` too): another
  origin's `fetch()` or form POST is refused with 403 before any handler runs.
- Every state-changing request carries the **page secret** that the page received inside itself (a
  random nonce signed with a key made at start-up): a custom header no other origin can send without
  a CORS preflight, which this server never grants.

The token (`--token`, asked of every request on a non-loopback bind) comes on top of these.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import itertools
import re
import secrets
import socket
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

from live_style.errors import UserError
from live_style.server.refusals import SECURITY_HEADERS, printable, refusal

PAGE_HEADER = "X-Live-Style-Page"
TOKEN_HEADER = "X-Live-Style-Token"
TOKEN_COOKIE = "live_style_token"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "127.0.0.1", "::1"})
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def host_name(header: str) -> str:
    """The name or address in a Host header, without its port or IPv6 brackets, lower-cased (addresses as
    Python writes them)."""
    header = header.strip().lower()
    if header.startswith("["):
        name = header[1 : header.find("]")] if "]" in header else ""
    else:
        name = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    return ip_text(name) or name


def ip_text(text: str) -> str:
    """The IP address `text` is, written as Python writes it; "" for anything else."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


def allowed_name(value: str) -> str:
    """An --allow-host value as a Host header names it (proxy.example:8443, [2001:db8::1] and
    https://studio.example all work); a UserError for what names no host."""
    text = value.strip()
    refused = UserError(f"--allow-host {value!r} is not a host name; give one like proxy.example or [2001:db8::1]")
    try:
        parts = urllib.parse.urlsplit(text if "://" in text else "//" + text)
    except ValueError:  # an unclosed or unreadable [IPv6] bracket
        raise refused from None
    name = host_name(parts.netloc)
    if not (ip_text(name) or HOST_NAME.fullmatch(name)) or "@" in parts.netloc or parts.path.strip("/"):
        raise refused
    return name


def machine_addresses() -> set[str]:
    """This machine's interface addresses (psutil's list when installed, else what its host name resolves to)."""
    try:
        import psutil
    except ImportError:
        try:
            found = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
        except OSError:
            found = set()
    else:
        families = (socket.AF_INET, socket.AF_INET6)
        interfaces = psutil.net_if_addrs().values()
        found = {entry.address.split("%")[0] for entry in itertools.chain(*interfaces) if entry.family in families}
    return {ip_text(address) or address.lower() for address in found}  # written as Host headers are compared


def secret_equal(given: str, expected: str) -> bool:
    """A constant-time comparison that takes any header text (undecodable bytes included)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


@dataclass
class Guard:
    """The checks every request passes: Host, token, Origin; and the page secrets it hands out."""

    names: frozenset[str]  # host names and addresses this server answers to (lower case, no port)
    token: str = ""
    tls: bool = False
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def for_bind(cls, host: str, allow_hosts: Iterable[str], token: str, tls: bool) -> Guard:
        """The names a server bound to `host` answers to: loopback ones, `host` itself, `--allow-host` names,
        and for a wildcard bind this machine's own names and interface addresses."""
        names = set(LOOPBACK_NAMES) | {host_name(host) or host.lower()} | {allowed_name(name) for name in allow_hosts}
        if host in WILDCARDS:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()} | machine_addresses()
        return cls(frozenset(names - WILDCARDS), token, tls)

    def host_allowed(self, header: str | None) -> bool:
        """Whether a Host header names this server (what stops DNS rebinding)."""
        return host_name(header or "") in self.names

    def own_origin(self, request: web.Request) -> str:
        return f"{'https' if self.tls else 'http'}://{(request.host or '').lower()}"

    def cross_origin(self, request: web.Request) -> str | None:
        """Why a request comes from another site's page, or None when it is the studio's own (or no browser's)."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() != self.own_origin(request):
            return f"requests from {printable(origin)} are refused; open the studio's own address"
        site = request.headers.get("Sec-Fetch-Site", "same-origin")
        navigation = request.method == "GET" and request.headers.get("Sec-Fetch-Mode") == "navigate"
        if site not in ("same-origin", "none") and not (navigation and request.path == "/"):
            return f"a {printable(site, 40)} request is refused; open the studio's own address"
        return None

    def token_given(self, request: web.Request) -> bool:
        if not self.token:
            return True
        given = request.query.get("token") or request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE)
        return bool(given) and secret_equal(given, self.token)

    def new_page_secret(self) -> str:
        """A fresh secret for one page load: a random nonce and its signature (nothing kept per page)."""
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._sign(nonce)}"

    def page_secret_valid(self, secret: str | None) -> bool:
        nonce, _, signature = (secret or "").partition(".")
        return bool(nonce) and secret_equal(signature, self._sign(nonce))

    def _sign(self, nonce: str) -> str:
        return hmac.new(self.key, nonce.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """421 for a foreign Host, 401 without the token, 403 from another origin; security headers on the rest."""
        if not self.host_allowed(request.headers.get("Host")):
            return refusal(request, 421, "this server does not answer to that host name; open the address it printed")
        if not self.token_given(request):
            return refusal(
                request,
                401,
                "this live-style server needs its access token; open the URL with ?token=... "
                "that `live-style serve` printed",
            )
        reason = self.cross_origin(request)
        if reason:
            return refusal(request, 403, reason)
        response = await handler(request)
        response.headers.update(SECURITY_HEADERS)
        if self.token and request.query.get("token"):
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict", secure=self.tls)
        return response
