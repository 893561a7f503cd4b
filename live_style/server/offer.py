"""A page's WebRTC offer, checked before it costs anything: a peer connection is made only for one that passes.

A real browser's offer is a few kilobytes: one or two video sections (the camera, or the two streams
watch mode receives), a data channel, a handful of ICE candidates. Anything far from that is refused
with the reason, since aiortc's own parsing and ICE checks grow with the square of what they are sent.
"""

from __future__ import annotations

from aiortc import RTCSessionDescription
from aiortc.codecs import get_capabilities
from aiortc.sdp import SessionDescription

from live_style.server.limits import Refused, parse_json_object
from live_style.server.refusals import printable

MAX_OFFER_BYTES = 64 * 1024  # the JSON body; a browser's offer is 4-12 kB
MAX_SDP_LINES = 1000
MAX_CANDIDATES = 64  # a browser on one machine offers a few per section
MAX_VIDEO_SECTIONS = 2
DECODABLE = {codec.mimeType.lower() for codec in get_capabilities("video").codecs} - {"video/rtx"}


def offer_from_body(body: bytes) -> RTCSessionDescription:
    """The offer in a request body ({sdp, type} as JSON), checked; Refused (400) with the reason otherwise."""
    message = parse_json_object(body, "the offer", MAX_OFFER_BYTES)
    sdp, kind = message.get("sdp"), message.get("type")
    if not isinstance(sdp, str) or not isinstance(kind, str):
        raise Refused(400, "send the page's WebRTC offer as JSON: {sdp: string, type: string}")
    if kind != "offer":
        raise Refused(400, f"the description must be an offer, not {kind[:20]!r}")
    check_sdp(sdp)
    return RTCSessionDescription(sdp=sdp, type="offer")


def check_sdp(sdp: str) -> None:
    """Refused (400) unless the SDP is one aiortc parses, of a size a browser sends, with video we can decode."""
    lines = sdp.count("\n") + 1
    if lines > MAX_SDP_LINES:
        raise Refused(400, f"the offer has {lines} lines; a browser's has well under {MAX_SDP_LINES}")
    candidates = sdp.count("a=candidate:")
    if candidates > MAX_CANDIDATES:
        raise Refused(400, f"the offer has {candidates} ICE candidates; at most {MAX_CANDIDATES} are taken")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as error:  # aiortc's parser asserts, indexes and converts as it goes
        reason = f"the offer's SDP cannot be read ({type(error).__name__}: {error})"
        raise Refused(400, printable(reason, 200)) from None
    check_sections(parsed)
    check_bundle(parsed)


def check_sections(parsed: SessionDescription) -> None:
    """One or two video sections with a decodable codec, at most one data channel, each with ICE and DTLS."""
    kinds = [media.kind for media in parsed.media]
    videos = kinds.count("video")
    if not 1 <= videos <= MAX_VIDEO_SECTIONS or kinds.count("application") > 1 or len(kinds) > videos + 1:
        raise Refused(400, f"the offer has sections {kinds}; the studio takes 1-2 video and at most 1 data channel")
    for media in parsed.media:
        if not (media.ice and media.ice.usernameFragment and media.ice.password):
            raise Refused(400, f"the offer's {media.kind} section has no ICE credentials")
        if not (media.dtls and media.dtls.fingerprints):
            raise Refused(400, f"the offer's {media.kind} section has no DTLS fingerprint")
        codecs = {codec.mimeType.lower() for codec in media.rtp.codecs}
        if media.kind == "video" and not codecs & DECODABLE:
            offered = ", ".join(sorted(codecs)) or "no codec"
            raise Refused(400, f"the offer's video has {offered}; the server decodes {', '.join(sorted(DECODABLE))}")


def check_bundle(parsed: SessionDescription) -> None:
    """Every BUNDLE group names sections that exist."""
    mids = {media.rtp.muxId for media in parsed.media}
    for group in parsed.group:
        unknown = [str(item) for item in group.items if str(item) not in mids]
        if group.semantic == "BUNDLE" and (unknown or not group.items):
            raise Refused(400, f"the offer's BUNDLE group names sections it does not have: {unknown[:5]}")
