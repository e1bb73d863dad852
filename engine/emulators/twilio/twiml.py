"""The TwiML subset the emulator runs: <Connect><Stream>, <Dial><Sip>, <Pause>, <Say>, <Gather>, <Hangup>."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlsplit

from engine.errors import ValidationError


@dataclasses.dataclass(frozen=True)
class StreamVerb:
    url: str
    parameters: dict[str, str]
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class SipVerb:
    """``<Dial><Sip>uri</Sip></Dial>``: the URI (without its query) and the ``X-`` headers from it."""

    uri: str
    headers: dict[str, str]
    time_limit_s: int | None = None


@dataclasses.dataclass(frozen=True)
class PauseVerb:
    seconds: float


@dataclasses.dataclass(frozen=True)
class SayVerb:
    text: str


@dataclasses.dataclass(frozen=True)
class HangupVerb:
    pass


@dataclasses.dataclass(frozen=True)
class GatherVerb:
    """Keypad input: its nested ``<Say>`` plays, then up to ``timeout`` seconds for ``num_digits``."""

    action: str | None
    method: str = "POST"
    num_digits: int = 1
    timeout: float = 5.0
    says: tuple[str, ...] = ()


Verb = StreamVerb | SipVerb | PauseVerb | SayVerb | HangupVerb | GatherVerb


def parse_twiml(text: str, *, field: str = "Twiml") -> list[Verb]:
    """Parse a TwiML document into the verbs the emulator acts on; unknown verbs are skipped."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValidationError(field, f"TwiML is not well-formed XML: {exc}") from exc
    if root.tag != "Response":
        raise ValidationError(field, f"TwiML root must be <Response>, got <{root.tag}>")
    verbs: list[Verb] = []
    for element in root:
        if element.tag == "Connect":
            streams = [child for child in element if child.tag == "Stream"]
            if len(streams) != 1:
                raise ValidationError(field, "<Connect> must hold exactly one <Stream>")
            verbs.append(_stream(streams[0], field))
        elif element.tag == "Dial":
            verbs.append(_dial(element, field))
        elif element.tag == "Pause":
            try:
                seconds = float(element.get("length", "1"))
            except ValueError as exc:
                raise ValidationError(field, "<Pause length> must be a number") from exc
            verbs.append(PauseVerb(max(0.0, seconds)))
        elif element.tag == "Say":
            verbs.append(SayVerb(element.text or ""))
        elif element.tag == "Hangup":
            verbs.append(HangupVerb())
        elif element.tag == "Gather":
            verbs.append(_gather(element, field))
    return verbs


def _dial(element: ET.Element, field: str) -> SipVerb:
    sips = [child for child in element if child.tag == "Sip"]
    if len(sips) != 1:
        raise ValidationError(field, "<Dial> is emulated with exactly one <Sip> noun")
    raw = (sips[0].text or "").strip()
    uri, _, query = raw.partition("?")
    if not uri.startswith(("sip:", "sips:")):
        raise ValidationError(field, "<Sip> must hold a sip: URI")
    headers: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if not name.startswith("X-"):
            raise ValidationError(field, f"<Sip> header {name!r}: only X- headers pass into the INVITE")
        headers[name] = value
    limit = element.get("timeLimit")
    try:
        time_limit = int(limit) if limit is not None else None
    except ValueError as exc:
        raise ValidationError(field, "<Dial timeLimit> must be an integer") from exc
    return SipVerb(uri, headers, time_limit)


def _gather(element: ET.Element, field: str) -> GatherVerb:
    try:
        digits = int(element.get("numDigits", "1"))
        timeout = float(element.get("timeout", "5"))
    except ValueError as exc:
        raise ValidationError(field, "<Gather numDigits/timeout> must be numbers") from exc
    method = element.get("method", "POST").upper()
    if method not in ("GET", "POST"):
        raise ValidationError(field, "<Gather method> must be GET or POST")
    says = tuple(child.text or "" for child in element if child.tag == "Say")
    return GatherVerb(element.get("action"), method, max(1, digits), max(0.0, timeout), says)


def _stream(element: ET.Element, field: str) -> StreamVerb:
    url = element.get("url", "")
    parts = urlsplit(url)
    # Real Twilio only accepts wss://; ws:// is allowed offline (no TLS on 127.0.0.1).
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValidationError(field, "<Stream url> must be an absolute wss:// (or ws://) URL")
    if parts.query:
        raise ValidationError(
            field, "<Stream url> must not carry a query string (error 31920); use <Parameter>"
        )
    params: dict[str, str] = {}
    for child in element:
        if child.tag != "Parameter":
            continue
        name, value = child.get("name"), child.get("value", "")
        if not name:
            raise ValidationError(field, "<Parameter> needs a name")
        if len(name) + len(value) >= 500:
            raise ValidationError(field, f"<Parameter name={name!r}>: name + value must be < 500 chars")
        params[name] = value
    return StreamVerb(url=url, parameters=params, name=element.get("name"))
