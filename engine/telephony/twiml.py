"""TwiML and callback URLs for one outbound call."""

from __future__ import annotations

from urllib.parse import urlencode

from twilio.twiml.voice_response import Connect, Dial, VoiceResponse


def stream_twiml(stream_url: str, token: str) -> str:
    """``<Connect><Stream url=…><Parameter name="token" …/></Stream></Connect>``.

    ``<Connect>`` holds the call until our server closes the socket; with no
    verb after it, Twilio then hangs up.
    """
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url)
    stream.parameter(name="token", value=token)
    response.append(connect)
    return str(response)


def http_base(public_ws_base: str) -> str:
    """The http(s) form of a host's public ``ws(s)://`` base (status callbacks use it)."""
    if public_ws_base.startswith("wss://"):
        return "https://" + public_ws_base[len("wss://") :]
    if public_ws_base.startswith("ws://"):
        return "http://" + public_ws_base[len("ws://") :]
    return public_ws_base


def sip_twiml(sip_uri: str, headers: dict[str, str], time_limit_s: int) -> str:
    """``<Dial answerOnBridge="true"><Sip>uri?X-…=…</Sip></Dial>``: Twilio bridges the answered
    call to that SIP endpoint and passes the ``X-`` headers into the INVITE. When the SIP leg
    ends, no verb follows: Twilio hangs up."""
    for name in headers:
        if not name.startswith("X-"):
            raise ValueError(f"custom SIP header {name!r} must start with X-")
    query = urlencode(headers)
    response = VoiceResponse()
    dial = Dial(answer_on_bridge=True, time_limit=time_limit_s)
    dial.sip(f"{sip_uri}?{query}" if query else sip_uri)
    response.append(dial)
    return str(response)


def media_url(public_ws_base: str, session_id: str) -> str:
    return f"{public_ws_base.rstrip('/')}/media/{session_id}"


def status_url(public_ws_base: str, session_id: str, token: str | None = None) -> str:
    """The status callback URL; ``token`` (the per-attempt token, no personal data) as ``?t=``."""
    base = f"{http_base(public_ws_base).rstrip('/')}/status/{session_id}"
    return f"{base}?t={token}" if token else base
