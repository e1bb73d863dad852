"""Call-backs to our caller id: what an inbound call gets, decided from plain data (no I/O here).

Customers ring back numbers that called them. Twilio fetches the number's
voice URL (``Direction=inbound``, ``From`` = the customer) and runs the TwiML
we answer with:

- the customer's verification is still waiting for a call (a pending session
  for that number, not being dialled right now) and a call slot is free →
  the interview itself, on this host (``<Connect><Stream>``);
- otherwise → a short spoken message: who called and why, and that pressing
  the opt-out key means never being called again (``<Gather>`` for one digit);
- a number that opted out → the message without the opt-out offer.

The HTTP handler that feeds this (signature check, lookups, the claim) lives
with the host listener: :mod:`engine.session.inbound`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

import msgspec
from twilio.twiml.voice_response import Gather, VoiceResponse

from engine.errors import ValidationError

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
LANGUAGE = "sv-SE"


class InboundCall(msgspec.Struct, frozen=True):
    call_sid: str
    from_number: str
    """The customer (personal data: never logged)."""
    to_number: str


def parse_voice_webhook(params: Mapping[str, str]) -> InboundCall:
    """The fields of Twilio's voice-URL request an inbound call needs (ValidationError names a bad one)."""
    call_sid = params.get("CallSid", "")
    if not _CALL_SID.match(call_sid):
        raise ValidationError("CallSid", "must be CA + 32 hex characters")
    if params.get("Direction", "inbound") != "inbound":
        raise ValidationError("Direction", "only inbound calls come to the voice URL")
    caller, called = params.get("From", ""), params.get("To", "")
    if not E164.match(caller):
        raise ValidationError("From", "must be an E.164 number (withheld numbers get the message)")
    if not E164.match(called):
        raise ValidationError("To", "must be an E.164 number")
    return InboundCall(call_sid, caller, called)


class Kind(enum.StrEnum):
    INTERVIEW = "interview"
    MESSAGE = "message"


class Waiting(msgspec.Struct, frozen=True):
    """A session of this caller that waits for a (re)try and was claimed for this call."""

    session_id: str
    store_id: str
    attempt: int


class Decision(msgspec.Struct, frozen=True):
    kind: Kind
    waiting: Waiting | None = None
    offer_opt_out: bool = True


def decide(*, waiting: Waiting | None, opted_out: bool, free_slot: bool) -> Decision:
    if opted_out:
        return Decision(Kind.MESSAGE, offer_opt_out=False)
    if waiting is not None and free_slot:
        return Decision(Kind.INTERVIEW, waiting)
    return Decision(Kind.MESSAGE)


def _key_words(key: str) -> str:
    words = dict(zip("0123456789", "noll ett två tre fyra fem sex sju åtta nio".split(), strict=True))
    return {"*": "stjärna", "#": "fyrkant"}.get(key, words.get(key, key))


def message_twiml(*, opt_out_digit: str, gather_url: str | None, offer_opt_out: bool = True) -> str:
    """Who called and why; the opt-out key when offered (a ``<Gather>`` posting the digit to ``gather_url``)."""
    response = VoiceResponse()
    intro = (
        "Hej! Du blev uppringd av en AI-assistent som ringer på uppdrag av butiken där du nyligen "
        "handlade, för att ställa några korta frågor om ditt köp. Vi ringer igen vid ett senare "
        "tillfälle."
    )
    if not offer_opt_out:
        response.say(
            intro + " Du har tackat nej till fler samtal och blir inte uppringd igen. Hej då!",
            language=LANGUAGE,
        )
        response.hangup()
        return str(response)
    response.say(intro, language=LANGUAGE)
    if gather_url:
        gather = Gather(num_digits=1, action=gather_url, method="POST", timeout=5)
        gather.say(
            f"Vill du aldrig bli uppringd igen, tryck {_key_words(opt_out_digit)} nu.", language=LANGUAGE
        )
        response.append(gather)
    response.say("Tack, hej då!", language=LANGUAGE)
    response.hangup()
    return str(response)


def opted_out_twiml() -> str:
    response = VoiceResponse()
    response.say("Tack. Vi ringer dig inte igen. Hej då!", language=LANGUAGE)
    response.hangup()
    return str(response)
