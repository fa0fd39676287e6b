"""Signalling validation and admission control, without a server (fast tier)."""

from __future__ import annotations

import pytest

from voicebot.admission import Admission
from voicebot.signalling import (
    BadSignalling,
    check_offer_sdp,
    json_depth,
    offer_request,
    parse_json_object,
    patch_request,
)

FINGERPRINT = ("a=fingerprint:sha-256 6F:E7:68:93:73:A5:E2:03:F9:86:1E:09:58:30:D8:AA:1B:F0:C9:2E:0F:58:AE:75:C6:E9:"
               "D3:3A:39:80:2F:E8")
OFFER = "\r\n".join([
    "v=0", "o=- 4005140793 4005140793 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
    "m=audio 46779 UDP/TLS/RTP/SAVPF 96 0 8", "c=IN IP4 127.0.0.1", "a=sendrecv", "a=mid:0", "a=rtcp-mux",
    "a=rtpmap:96 opus/48000/2", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
    "a=candidate:16572de6 1 udp 2130706431 127.0.0.1 37766 typ host", "a=end-of-candidates",
    "a=ice-ufrag:jgse", "a=ice-pwd:cxSfsU97mFy4oSXHnD2cJk",
    FINGERPRINT,
    "a=setup:actpass",
    "m=application 47908 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 127.0.0.1", "a=mid:1", "a=sctp-port:5000",
    "a=ice-ufrag:jgse", "a=ice-pwd:cxSfsU97mFy4oSXHnD2cJk",
    FINGERPRINT,
    "a=setup:actpass", "",
])


def test_a_browser_offer_passes():
    summary = check_offer_sdp(OFFER)
    assert summary.codecs == ["audio/opus", "audio/pcma", "audio/pcmu"]
    request = offer_request({"sdp": OFFER, "type": "offer", "pc_id": None})
    assert request.sdp == OFFER and request.pc_id is None


@pytest.mark.parametrize("sdp, reason", [
    (OFFER.replace("m=audio 46779", "m=video 46779"), "exactly one audio m-line"),
    (OFFER.replace("m=audio 46779", "m=audio 0"), "port 0"),
    (OFFER.replace("UDP/TLS/RTP/SAVPF 96", "RTP/AVP 96"), "DTLS-SRTP"),
    (OFFER.replace("opus/48000/2", "foo/1").replace("PCMU/8000", "x/1").replace("PCMA/8000", "y/1"), "no codec"),
    ("\r\n".join(line for line in OFFER.split("\r\n") if not line.startswith("a=fingerprint")), "fingerprint"),
    ("\r\n".join(line for line in OFFER.split("\r\n") if not line.startswith("a=ice-pwd")), "ICE credentials"),
    (OFFER.replace("m=audio 46779", "m=audio x"), "does not parse"),
    ("hello", "v=0"),
])
def test_broken_offers_are_refused_with_a_reason(sdp, reason):
    with pytest.raises(BadSignalling, match=reason) as refused:
        check_offer_sdp(sdp)
    assert refused.value.status == 400


def test_json_limits_apply_before_parsing():
    assert json_depth(b'{"a": [1, {"b": "[[[["}]}') == 3
    with pytest.raises(BadSignalling, match="nested"):
        parse_json_object(b"[" * 20_000 + b"]" * 20_000)
    with pytest.raises(BadSignalling) as too_big:
        parse_json_object(b" " * 100_000)
    assert too_big.value.status == 413
    for body in (b"[1]", b"nope", b'"text"'):
        with pytest.raises(BadSignalling):
            parse_json_object(body)


@pytest.mark.parametrize("body", [
    {"candidates": []},
    {"pc_id": 5, "candidates": []},
    {"pc_id": "pc", "candidates": "x"},
    {"pc_id": "pc", "candidates": [{"candidate": "candidate:"}]},
    {"pc_id": "pc", "candidates": [{"candidate": "candidate:1 1 UDP 2130706431 127.0.0.1 x typ host"}]},
    {"pc_id": "pc", "candidates": [{"candidate": "", "sdp_mline_index": "0"}]},
    {"pc_id": "../x", "candidates": []},
])
def test_bad_patches_are_refused(body):
    with pytest.raises(BadSignalling):
        patch_request(body)


def test_good_patch_and_end_of_candidates_marker():
    patch = patch_request({"pc_id": "SmallWebRTCConnection#0-abc", "candidates": [
        {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0},
        {"candidate": "", "sdp_mid": "0", "sdp_mline_index": 0}]})
    assert [c.sdp_mline_index for c in patch.candidates] == [0, 0]


def test_admission_caps_calls_and_unconnected_offers():
    admission = Admission(max_calls=2, max_pending_per_client=2, max_pending_total=3)
    admission.reserve("a")
    admission.answered("a", "pc1")
    admission.reserve("a")
    with pytest.raises(BadSignalling) as per_client:
        admission.reserve("a")
    assert per_client.value.status == 429
    admission.release("a")  # that offer failed
    assert admission.connected("pc1")
    admission.reserve("b")
    admission.answered("b", "pc2")
    admission.reserve("c")
    admission.answered("c", "pc3")
    admission.reserve("d")
    admission.answered("d", "pc4")
    with pytest.raises(BadSignalling, match="Too many unconnected offers on this server") as total:
        admission.reserve("e")  # three offers wait to connect: the total cap
    assert total.value.status == 429
    assert admission.connected("pc2")
    assert not admission.connected("pc3"), "the lines filled up while pc3 was connecting"
    with pytest.raises(BadSignalling, match="All lines are busy") as busy:
        admission.reserve("e")
    assert busy.value.status == 503
    admission.ended("pc2")
    admission.reserve("e")
    assert admission.status() == {"capacity": 2, "calls_in_progress": 1, "offers_pending": 1, "retry_after_s": 5}


def test_offers_that_never_connect_hold_no_place_of_a_call():
    admission = Admission(max_calls=1, max_pending_per_client=2, max_pending_total=4)
    for client, pc in (("10.0.0.1", "a1"), ("10.0.0.1", "a2"), ("10.0.0.2", "b1"), ("10.0.0.2", "b2")):
        admission.reserve(client)
        admission.answered(client, pc)
    # Four junk offers wait; a real caller's offer would be refused only by the pending cap, never as busy.
    assert admission.status()["calls_in_progress"] == 0 and admission.in_progress == 0
    admission.ended("a1")
    admission.reserve("10.0.0.3")
    admission.answered("10.0.0.3", "real")
    assert admission.connected("real")
