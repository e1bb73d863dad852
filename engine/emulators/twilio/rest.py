"""The Calls REST subset: request validation, Twilio-shaped errors and the Call resource JSON."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from engine.emulators.twilio.calllog import CallRecord
from engine.emulators.twilio.progress import DEFAULT_TIME_LIMIT_S, CallParams
from engine.emulators.twilio.twiml import parse_twiml
from engine.errors import ValidationError

API_VERSION = "2010-04-01"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})


Form = Mapping[str, list[str]]
"""A decoded form: every key with all its values (repeated keys are lists, as twilio-python sends them)."""


class TwilioApiError(Exception):
    """An error reply: HTTP status + Twilio error code, rendered as Twilio's legacy error body."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def _one(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[-1] if values else None


def _http_url(value: str, name: str, code: int) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TwilioApiError(400, code, f"{name} is not a valid URL: expected an absolute http(s) URL")
    return value


def _method(form: Form, name: str) -> str:
    method = (_one(form, name) or "POST").upper()
    if method not in ("GET", "POST"):
        raise TwilioApiError(400, 20001, f"{name} must be GET or POST")
    return method


def _int(form: Form, name: str, default: int, low: int, high: int) -> int:
    raw = _one(form, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TwilioApiError(400, 20001, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise TwilioApiError(400, 20001, f"{name} must be between {low} and {high}")
    return value


def _bool(form: Form, name: str) -> bool:
    raw = (_one(form, name) or "false").lower()
    if raw not in ("true", "false"):
        raise TwilioApiError(400, 20001, f"{name} must be true or false")
    return raw == "true"


def valid_number(value: str) -> bool:
    return bool(_E164.match(value)) or value.startswith(("client:", "sip:"))


def parse_create(form: Form) -> CallParams:
    """Validate a create-call form (wire names as twilio-python sends them)."""
    to = _one(form, "To")
    if not to:
        raise TwilioApiError(400, 21201, "No 'To' number is specified")
    if not valid_number(to):
        raise TwilioApiError(400, 21211, "The 'To' number is not a valid phone number.")
    from_ = _one(form, "From")
    if not from_:
        raise TwilioApiError(400, 21213, "No 'From' number is specified")
    if not valid_number(from_):
        raise TwilioApiError(400, 21212, "The 'From' number is not a valid phone number.")
    url, twiml = _one(form, "Url"), _one(form, "Twiml")
    verbs = None
    if url:
        url = _http_url(url, "Url", 21205)
    elif twiml:
        verbs = tuple(_twiml(twiml))
    elif _one(form, "ApplicationSid"):
        raise TwilioApiError(400, 21218, "ApplicationSid is not supported by the emulator; use Url or Twiml")
    else:
        raise TwilioApiError(400, 21205, "Url parameter is required (or Twiml)")
    callback = _one(form, "StatusCallback") or None
    if callback:
        callback = _http_url(callback, "StatusCallback", 21609)
    events_raw: Sequence[str] = form.get("StatusCallbackEvent", [])
    events = frozenset(e.strip() for raw in events_raw for e in str(raw).split(" ") if e.strip())
    bad = sorted(events - _EVENTS)
    if bad:
        raise TwilioApiError(400, 21626, f"StatusCallbackEvent: invalid value(s) {', '.join(bad)}")
    machine = _one(form, "MachineDetection") or None
    if machine is not None and machine not in ("Enable", "DetectMessageEnd"):
        raise TwilioApiError(400, 20001, "MachineDetection must be Enable or DetectMessageEnd")
    if machine is not None and _one(form, "SendDigits"):
        machine = None  # Twilio ignores AMD when SendDigits is set
    amd_callback = _one(form, "AsyncAmdStatusCallback") or None
    if amd_callback:
        amd_callback = _http_url(amd_callback, "AsyncAmdStatusCallback", 21609)
    return CallParams(
        to=to,
        from_=from_,
        url=url or None,
        method=_method(form, "Method"),
        verbs=verbs,
        status_callback=callback,
        status_callback_method=_method(form, "StatusCallbackMethod"),
        status_callback_events=events or frozenset({"completed"}),
        timeout_s=_int(form, "Timeout", 60, 1, 600),
        time_limit_s=_int(form, "TimeLimit", DEFAULT_TIME_LIMIT_S, 1, 24 * 3600),
        machine_detection=machine,
        async_amd=_bool(form, "AsyncAmd"),
        async_amd_callback=amd_callback,
        async_amd_method=_method(form, "AsyncAmdStatusCallbackMethod"),
    )


def _twiml(text: str) -> list[Any]:
    if len(text) > 4000:
        raise TwilioApiError(400, 11750, "Twiml must be at most 4000 characters")
    try:
        return list(parse_twiml(text))
    except ValidationError as exc:
        raise TwilioApiError(400, 12100, f"Document parse failure: {exc.description}") from exc


def parse_update(form: Form) -> tuple[str | None, tuple[Any, ...] | None, str | None]:
    """(Status, parsed Twiml verbs, Url) of an update request."""
    status = _one(form, "Status")
    if status is not None and status not in ("completed", "canceled"):
        raise TwilioApiError(400, 20001, "Status must be completed or canceled")
    url, twiml = _one(form, "Url"), _one(form, "Twiml")
    if url and twiml:
        raise TwilioApiError(400, 20001, "Url and Twiml are mutually exclusive")
    verbs = tuple(_twiml(twiml)) if twiml else None
    if url:
        url = _http_url(url, "Url", 21205)
    if status is None and verbs is None and not url:
        known = {
            "StatusCallback",
            "StatusCallbackMethod",
            "TimeLimit",
            "Method",
            "FallbackUrl",
            "FallbackMethod",
        }
        if not set(form.keys()) & known:
            raise TwilioApiError(400, 20001, "Nothing to update: give Status, Url or Twiml")
    return status, verbs, url


def rfc2822(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    return email.utils.format_datetime(when.astimezone(dt.UTC)).replace("-0000", "+0000")


def call_json(record: CallRecord, account_sid: str) -> dict[str, Any]:
    """The Call resource as Twilio renders it (RFC 2822 dates, ``duration`` a string)."""
    times: Mapping[str, dt.datetime] = {}
    for status, when in record.statuses:
        times = {**times, status: when} if status not in times else times
    start = times.get("in-progress")
    end = None
    for status in ("completed", "busy", "no-answer", "failed", "canceled"):
        if status in times:
            end = times[status]
    updated = record.statuses[-1][1] if record.statuses else record.created_at
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{record.sid}.json"
    duration = None if record.duration_s is None else str(round(record.duration_s))
    return {
        "sid": record.sid,
        "account_sid": account_sid,
        "parent_call_sid": None,
        "to": record.to,
        "to_formatted": record.to,
        "from": record.from_,
        "from_formatted": record.from_,
        "phone_number_sid": None,
        "status": record.status,
        "date_created": rfc2822(record.created_at),
        "date_updated": rfc2822(updated),
        "start_time": rfc2822(start),
        "end_time": rfc2822(end),
        "duration": duration,
        "price": None,
        "price_unit": "USD",
        "direction": "outbound-api",
        "answered_by": record.answered_by,
        "api_version": API_VERSION,
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": "0",
        "trunk_sid": None,
        "stir_verstat": None,
        "uri": uri,
        "subresource_uris": {
            "notifications": uri.replace(".json", "/Notifications.json"),
            "recordings": uri.replace(".json", "/Recordings.json"),
        },
    }
