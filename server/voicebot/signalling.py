"""Signalling input checked before anything is spent on it.

An offer costs a peer connection, and once it connects a pipeline and a TTS worker, so
every POST and PATCH to ``/api/offer`` is validated first: the body's size and nesting
before it is parsed, then its fields, then the SDP itself (it must parse and carry one
usable audio m-line: a codec we speak, a real port, ICE credentials and a DTLS
fingerprint). Anything wrong is a :class:`BadSignalling` with a reason the caller can
read, turned into a 4xx by the web app; nothing here raises anything else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aiortc.sdp import SessionDescription, candidate_from_sdp
from pipecat.transports.smallwebrtc.request_handler import (
    IceCandidate,
    SmallWebRTCPatchRequest,
    SmallWebRTCRequest,
)

MAX_BODY_BYTES = 64 * 1024  # a browser's offer is 2-6 KB
MAX_JSON_DEPTH = 8  # {"candidates": [{...}]} is 3 deep
MAX_CANDIDATES = 64
MAX_PC_ID_CHARS = 128
AUDIO_CODECS = {"audio/opus", "audio/pcmu", "audio/pcma"}
SECURE_PROFILES = {"UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP", "RTP/SAVPF", "TCP/TLS/RTP/SAVPF"}
_PC_ID = re.compile(r"^[A-Za-z0-9#_.:-]+$")


class BadSignalling(ValueError):
    """The client sent something unusable; ``status`` is the HTTP status to answer."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


def json_depth(body: bytes) -> int:
    """Nesting depth of a JSON text, counted without parsing (brackets outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_json_object(body: bytes) -> dict:
    """The body as a JSON object, refusing oversize and deeply nested bodies before parsing."""
    if len(body) > MAX_BODY_BYTES:
        raise BadSignalling(f"Body too large ({len(body)} bytes; limit {MAX_BODY_BYTES})", 413)
    if json_depth(body) > MAX_JSON_DEPTH:
        raise BadSignalling(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadSignalling("Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadSignalling("Body must be a JSON object")
    return data


def _optional_pc_id(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_PC_ID_CHARS or not _PC_ID.match(value):
        raise BadSignalling("'pc_id' must be a short identifier string")
    return value


@dataclass(frozen=True)
class OfferSummary:
    """What the offer asks for: enough for the log line."""

    codecs: list[str]
    candidates: int


def check_offer_sdp(sdp: str) -> OfferSummary:
    """The SDP must parse and hold one usable audio m-line; else :class:`BadSignalling`."""
    if not sdp.lstrip().startswith("v=0"):
        raise BadSignalling("'sdp' is not a session description (it must start with v=0)")
    if "\x00" in sdp:
        raise BadSignalling("'sdp' contains NUL characters")
    try:
        description = SessionDescription.parse(sdp)
    except Exception as e:  # aiortc's parser raises whatever its str/int conversions raise
        raise BadSignalling(f"'sdp' does not parse: {type(e).__name__}: {e}") from None
    audio = [m for m in description.media if m.kind == "audio"]
    if len(audio) != 1:
        raise BadSignalling(f"The offer must have exactly one audio m-line (it has {len(audio)})")
    media = audio[0]
    if not 0 < media.port < 65536:
        raise BadSignalling(f"Audio m-line port {media.port} is not usable")
    if media.profile not in SECURE_PROFILES:
        raise BadSignalling(f"Audio m-line profile {media.profile!r} is not DTLS-SRTP")
    codecs = sorted({c.mimeType.lower() for c in media.rtp.codecs} & AUDIO_CODECS)
    if not codecs:
        raise BadSignalling("The audio m-line offers no codec we speak (opus, PCMU or PCMA)")
    if not media.ice or not media.ice.usernameFragment or not media.ice.password:
        raise BadSignalling("The audio m-line has no ICE credentials (a=ice-ufrag / a=ice-pwd)")
    if not media.dtls or not media.dtls.fingerprints:
        raise BadSignalling("The audio m-line has no DTLS fingerprint (a=fingerprint)")
    for candidate in media.ice_candidates:
        if not 0 < candidate.port < 65536:
            raise BadSignalling(f"ICE candidate port {candidate.port} is not usable")
    return OfferSummary(codecs=codecs, candidates=len(media.ice_candidates))


def offer_request(data: dict) -> SmallWebRTCRequest:
    """A validated POST body, as Pipecat's request handler takes it."""
    sdp, kind = data.get("sdp"), data.get("type")
    if not isinstance(sdp, str) or not sdp.strip():
        raise BadSignalling("Missing 'sdp' (string)")
    if kind != "offer":
        raise BadSignalling("'type' must be 'offer'")
    check_offer_sdp(sdp)
    restart = data.get("restart_pc")
    if restart is not None and not isinstance(restart, bool):
        raise BadSignalling("'restart_pc' must be a boolean")
    request_data = data.get("request_data", data.get("requestData"))
    if request_data is not None and not isinstance(request_data, dict):
        raise BadSignalling("'request_data' must be an object")
    return SmallWebRTCRequest(sdp=sdp, type=kind, pc_id=_optional_pc_id(data.get("pc_id")),
                              restart_pc=restart, request_data=request_data)


def _candidate(entry) -> IceCandidate:
    if not isinstance(entry, dict):
        raise BadSignalling("Each candidate must be an object")
    text = entry.get("candidate", "")
    mid = entry.get("sdp_mid", entry.get("sdpMid"))
    index = entry.get("sdp_mline_index", entry.get("sdpMLineIndex"))
    if not isinstance(text, str) or len(text) > 1024:
        raise BadSignalling("'candidate' must be a string")
    if mid is not None and not isinstance(mid, str):
        raise BadSignalling("'sdp_mid' must be a string")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 16):
        raise BadSignalling("'sdp_mline_index' must be a small non-negative integer")
    if text:  # empty: the end-of-candidates marker
        body = text.split(":", 1)[1] if text.startswith("candidate:") else text
        try:
            parsed = candidate_from_sdp(body)
        except Exception:  # aiortc asserts and converts without checking
            raise BadSignalling(f"Not an ICE candidate: {text[:80]!r}") from None
        if not 0 < parsed.port < 65536 or parsed.protocol.lower() not in ("udp", "tcp"):
            raise BadSignalling(f"Unusable ICE candidate: {text[:80]!r}")
    # Pipecat's IceCandidate says str and int, but hands both to aiortc, which takes None for either.
    return IceCandidate(candidate=text, sdp_mid=mid, sdp_mline_index=index)  # type: ignore[arg-type]


def patch_request(data: dict) -> SmallWebRTCPatchRequest:
    """A validated PATCH body (trickle ICE)."""
    pc_id = _optional_pc_id(data.get("pc_id"))
    if pc_id is None:
        raise BadSignalling("Missing 'pc_id'")
    candidates = data.get("candidates", [])
    if not isinstance(candidates, list) or len(candidates) > MAX_CANDIDATES:
        raise BadSignalling(f"'candidates' must be a list of at most {MAX_CANDIDATES}")
    return SmallWebRTCPatchRequest(pc_id=pc_id, candidates=[_candidate(c) for c in candidates])
