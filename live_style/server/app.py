"""The studio's web app: the static page, its JSON endpoints, the WebRTC offer.

Routes (every one behind the guard: Host, token, Origin; see `live_style.server.guard`):
  GET  /                        the page (static/index.html) with a fresh page secret; ?token=T sets a cookie
  GET  /static/NAME             its scripts and style sheet (only the files in STATIC_FILES)
  GET  /api/config              mode, model, styles with thumbnails, starting settings
  POST /api/offer               JSON {sdp, type} -> the answer and the new session's id (503 when busy)
  POST /api/sessions/ID/styles  an uploaded style image (the raw file) -> the new style
  POST /api/sessions/ID/close   JSON: the page is going away: free its slot at once
Every POST carries the page secret (header X-Live-Style-Page); a session answers only to the page that
opened it. Every refusal is a 4xx with {"error": reason}.
"""

from __future__ import annotations

from pathlib import Path

import aioice.ice
from aiohttp import web

from live_style.errors import UserError
from live_style.server.gallery import MAX_UPLOAD_BYTES
from live_style.server.guard import PAGE_HEADER, Guard
from live_style.server.limits import Refused, read_body
from live_style.server.offer import MAX_OFFER_BYTES, offer_from_body
from live_style.server.refusals import printable, refusal
from live_style.server.session import Session
from live_style.server.studio import Busy, Studio

STATIC = Path(__file__).with_name("static")
STATIC_FILES = {
    "studio.js": "text/javascript",
    "latency.js": "text/javascript",
    "sender-times.js": "text/javascript",  # a worker: the camera's sender's frame times (latency.js)
    "studio.css": "text/css",
}
PAGE_SECRET_SLOT = "{{page_secret}}"
MAX_CLOSE_BYTES = 1024
STUDIO = web.AppKey("studio", Studio)
GUARD = web.AppKey("guard", Guard)
PAGE = web.AppKey("page", str)


def keep_ice_on_loopback() -> None:
    """Offer only 127.0.0.1 as the server's ICE host candidate.

    aioice gathers every interface except loopback (RFC 8445 says so for the open internet); a studio
    bound to localhost talks to a browser on the same machine, so its media stays on loopback too.
    aiortc has no setting for this; aioice looks the function up at each gathering.
    """
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


@web.middleware
async def refusals(request: web.Request, handler) -> web.StreamResponse:
    """A `Refused` anywhere in a handler, and aiohttp's own 404 and 405, become the studio's 4xx with the reason."""
    try:
        return await handler(request)
    except Refused as error:
        return refusal(request, error.status, str(error))
    except web.HTTPMethodNotAllowed as error:
        allowed = ", ".join(sorted(error.allowed_methods))
        response = refusal(request, 405, f"{printable(request.method, 20)} is not taken here; use {allowed}")
        response.headers["Allow"] = allowed
        return response
    except web.HTTPNotFound:
        return refusal(request, 404, f"no such page: {printable(request.path)}")


async def index(request: web.Request) -> web.Response:
    """The page, carrying a secret of its own that its requests send back."""
    page = request.app[PAGE].replace(PAGE_SECRET_SLOT, request.app[GUARD].new_page_secret())
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def static_file(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise Refused(404, f"no such file: /static/{printable(name)}")
    return web.FileResponse(STATIC / name, headers={"Content-Type": STATIC_FILES[name]})


async def config(request: web.Request) -> web.Response:
    """Mode, model, styles and the settings a new page starts from (watch mode: the shared ones now)."""
    studio = request.app[STUDIO]
    watch = studio.watch
    controls = watch.controls if watch is not None else studio.new_controls()
    return web.json_response(
        {
            "mode": "watch" if watch is not None else "camera",
            "model": studio.model.description,
            "styles": studio.style_list(watch.styles if watch is not None else studio.new_styles()),
            "size": "auto" if controls.auto_size else controls.size,
            "strength": controls.strength,
            "preserve_colors": controls.preserve_colors,
            "stabilize": controls.stabilize,
            "person": controls.person,
            "person_strength": controls.person_strength,
        }
    )


def page_secret(request: web.Request) -> str:
    """The page secret a state-changing request carries, checked; Refused (403) without a valid one."""
    secret = request.headers.get(PAGE_HEADER, "")
    if not request.app[GUARD].page_secret_valid(secret):
        raise Refused(403, "this request does not come from the studio's page; reload the page")
    return secret


def require_json(request: web.Request) -> None:
    """JSON only: a content type no other site's page can send without a CORS preflight (never granted)."""
    if request.content_type != "application/json":
        raise Refused(415, f"send application/json, not {printable(request.content_type, 60)}")


def own_session(request: web.Request) -> Session:
    """The session named in the path, if the page asking opened it; Refused (404) otherwise."""
    secret = page_secret(request)
    session = request.app[STUDIO].sessions.get(request.match_info["session"])
    if session is None or session.page != secret:
        raise Refused(404, "no such session; reload the page")
    return session


async def offer(request: web.Request) -> web.Response:
    """The page's WebRTC offer -> the server's answer, with the new session's id."""
    secret = page_secret(request)
    require_json(request)
    description = offer_from_body(await read_body(request, MAX_OFFER_BYTES, "the offer"))
    try:
        session, answer = await request.app[STUDIO].open_session(description, secret)
    except Busy as error:
        raise Refused(503, str(error)) from None
    except Exception as error:  # an SDP aiortc cannot take after all; the session has freed its slot
        raise Refused(400, printable(f"the offer was refused: {error!r}", 200)) from None
    return web.json_response({"sdp": answer.sdp, "type": answer.type, "session": session.id})


async def upload_style(request: web.Request) -> web.Response:
    """The raw image file as the body; the new style (index, name, thumbnail) or 4xx with the reason."""
    session = own_session(request)
    try:
        style = await request.app[STUDIO].add_upload(session, lambda: read_body(request, MAX_UPLOAD_BYTES, "the image"))
        return web.json_response(style)
    except UserError as error:
        raise Refused(400, str(error)) from None


async def close_session(request: web.Request) -> web.Response:
    """The page is going away (sent on pagehide): free its slot now."""
    session = own_session(request)
    require_json(request)
    await read_body(request, MAX_CLOSE_BYTES, "the close request")
    session.end_reason = "the page was closed"
    await session.close()
    return web.Response(status=204)


async def close_sessions(app: web.Application) -> None:
    await app[STUDIO].close()


def build_app(studio: Studio, guard: Guard) -> web.Application:
    """The aiohttp application of a studio, behind `guard`."""
    app = web.Application(middlewares=[guard.middleware, refusals], client_max_size=MAX_UPLOAD_BYTES)
    app[STUDIO], app[GUARD], app[PAGE] = studio, guard, (STATIC / "index.html").read_text()
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/api/config", config)
    app.router.add_post("/api/offer", offer)
    app.router.add_post("/api/sessions/{session}/styles", upload_style)
    app.router.add_post("/api/sessions/{session}/close", close_session)
    app.on_shutdown.append(close_sessions)
    return app
