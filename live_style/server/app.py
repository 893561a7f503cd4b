"""The studio's web app: the static page, its JSON endpoints, the WebRTC offer, and the access token.

Routes (all behind the token when one is set):
  GET  /                        the page (static/index.html); ?token=T also sets a cookie for the rest
  GET  /static/...              its script and style sheet
  GET  /api/config              mode, model, styles with thumbnails, starting settings
  POST /api/offer               {sdp, type} -> the answer and the session id (503 when busy)
  POST /api/sessions/ID/styles  an uploaded style image (the raw file) -> the new style
  POST /api/sessions/ID/close   the page is going away (a beacon): free its slot at once
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path

import aioice.ice
from aiohttp import web
from aiortc import RTCSessionDescription

from live_style.errors import UserError
from live_style.server.gallery import MAX_UPLOAD_BYTES
from live_style.server.studio import Busy, Studio

STATIC = Path(__file__).with_name("static")
TOKEN_COOKIE = "live_style_token"
STUDIO = web.AppKey("studio", Studio)
TOKEN = web.AppKey("token", str)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: nobody else can reach the server."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def keep_ice_on_loopback() -> None:
    """Offer only 127.0.0.1 as the server's ICE host candidate.

    aioice gathers every interface except loopback (RFC 8445 says so for the open internet); a studio
    bound to localhost talks to a browser on the same machine, so its media stays on loopback too.
    aiortc has no setting for this; aioice looks the function up at each gathering.
    """
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


@web.middleware
async def require_token(request: web.Request, handler):
    """401 without the token (query ?token=, header X-Live-Style-Token, or the cookie the page got)."""
    token = request.app[TOKEN]
    if not token:
        return await handler(request)
    given = request.query.get("token") or request.headers.get("X-Live-Style-Token") or request.cookies.get(TOKEN_COOKIE)
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise web.HTTPUnauthorized(
            text="401: this live-style server needs its access token; open the URL with ?token=... "
            "that `live-style serve` printed\n"
        )
    response = await handler(request)
    if request.query.get("token"):
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
    return response


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def config(request: web.Request) -> web.Response:
    """Mode, model, styles and the settings a new page starts from (watch mode: the shared ones now)."""
    studio = request.app[STUDIO]
    watch = studio.watch
    controls = watch.controls if watch is not None else studio.new_controls()
    return web.json_response(
        {
            "mode": "watch" if watch is not None else "camera",
            "model": studio.model.description,
            "styles": studio.style_list(watch.bank.names if watch is not None else studio.names),
            "size": controls.size,
            "strength": controls.strength,
            "preserve_colors": controls.preserve_colors,
            "stabilize": controls.stabilize,
        }
    )


async def offer(request: web.Request) -> web.Response:
    """The page's WebRTC offer -> the server's answer, with the new session's id."""
    try:
        params = await request.json()
        description = RTCSessionDescription(sdp=str(params["sdp"]), type=str(params["type"]))
    except (ValueError, KeyError, TypeError):
        return json_error(400, "send the page's WebRTC offer as JSON: {sdp, type}")
    if description.type != "offer":
        return json_error(400, "the description must be an offer")
    try:
        session, answer = await request.app[STUDIO].open_session(description)
    except Busy as error:
        return json_error(503, str(error))
    except ValueError as error:  # an SDP aiortc cannot take
        return json_error(400, f"the offer was refused: {error}")
    return web.json_response({"sdp": answer.sdp, "type": answer.type, "session": session.id})


async def upload_style(request: web.Request) -> web.Response:
    """The raw image file as the body; the new style (index, name, thumbnail) or 400 with the reason."""
    studio = request.app[STUDIO]
    session = studio.sessions.get(request.match_info["session"])
    if session is None:
        return json_error(404, "no such session; reload the page")
    try:
        data = await request.read()
        return web.json_response(await studio.add_upload(session, data))
    except web.HTTPRequestEntityTooLarge:
        return json_error(400, f"the image is too big; upload one of at most {MAX_UPLOAD_BYTES >> 20} MB")
    except UserError as error:
        return json_error(400, str(error))


async def close_session(request: web.Request) -> web.Response:
    """The page is going away (sent as a beacon on pagehide): free its slot now."""
    session = request.app[STUDIO].sessions.get(request.match_info["session"])
    if session is not None:
        session.end_reason = "the page was closed"
        await session.close()
    return web.Response(status=204)


async def close_sessions(app: web.Application) -> None:
    await app[STUDIO].close()


def build_app(studio: Studio, token: str) -> web.Application:
    """The aiohttp application of a studio; `token` empty means no token is asked."""
    app = web.Application(middlewares=[require_token], client_max_size=MAX_UPLOAD_BYTES + 1024)
    app[STUDIO], app[TOKEN] = studio, token
    app.router.add_get("/", index)
    app.router.add_static("/static", STATIC)
    app.router.add_get("/api/config", config)
    app.router.add_post("/api/offer", offer)
    app.router.add_post("/api/sessions/{session}/styles", upload_style)
    app.router.add_post("/api/sessions/{session}/close", close_session)
    app.on_shutdown.append(close_sessions)
    return app
