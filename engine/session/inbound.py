"""The voice-URL route for call-backs to our caller id: one small function over a CallHost.

``await voice_webhook(host, url=..., params=..., signature=...)`` checks
Twilio's signature, reads the call, and answers with TwiML: the interview (a
CallSession started on this host for the customer's waiting session, which is
claimed first so the Dispatcher cannot dial it too) or the short message of
:mod:`engine.telephony.inbound`. A ``Digits`` parameter is the answer to the
message's opt-out ``<Gather>``. It is mounted at ``/voice`` on the host
listener; the number's voice URL (``…/voice``, method GET until the listener
reads POST bodies) points there.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING

from engine.errors import CallEngineError, ValidationError
from engine.telephony import inbound

if TYPE_CHECKING:
    from engine.session.host import CallHost

log = logging.getLogger("engine.session.inbound")

VOICE_PATH = "/voice"
TWIML_CONTENT_TYPE = "text/xml"


async def voice_webhook(
    host: CallHost, *, url: str, params: dict[str, str], signature: str | None
) -> tuple[HTTPStatus, str]:
    """(status, body): TwiML for Twilio, or a short error text. ``url`` is the full signed URL."""
    if not host.signatures.valid(url, signature):
        host.rejected["forged_signature"] += 1
        return HTTPStatus.FORBIDDEN, "Forbidden\n"
    try:
        call = inbound.parse_voice_webhook(params)
    except ValidationError as exc:
        host.rejected["voice_bad_request"] += 1
        log.warning("voice webhook refused: %s", exc.field)
        return HTTPStatus.BAD_REQUEST, "Bad Request\n"
    store, digit = host.store, host.settings.session.opt_out_dtmf
    try:
        if "Digits" in params:  # the answer to the message's opt-out question
            if params["Digits"] == digit:
                await store.add_opt_out("inbound", call.from_number)
                log.info("opt-out by keypad on a call-back")
                return HTTPStatus.OK, inbound.opted_out_twiml()
            return HTTPStatus.OK, inbound.message_twiml(opt_out_digit=digit, gather_url=None)
        opted_out = await store.is_opted_out(call.from_number)
        waiting = None
        if not opted_out and host.free_slots > 0:
            waiting = await store.claim_inbound(call.from_number, host.host_id)
        decision = inbound.decide(waiting=waiting, opted_out=opted_out, free_slot=host.free_slots > 0)
        if decision.kind is inbound.Kind.INTERVIEW and decision.waiting is not None:
            log.info("[session=%s] call-back: the customer's interview", decision.waiting.session_id)
            try:
                return HTTPStatus.OK, await host.accept_inbound(decision.waiting, call)
            except CallEngineError:
                # E.g. the last slot went to another call meanwhile: the session waits again.
                await store.release_inbound(decision.waiting)
                raise
        if waiting is not None:  # claimed, but no slot by the time we decided
            await store.release_inbound(waiting)
    except CallEngineError as exc:
        # Storage or the host is unavailable: the customer still hears who called.
        log.warning("call-back handled as a message: %s", type(exc).__name__)
        decision = inbound.Decision(inbound.Kind.MESSAGE)
    gather = url.partition("?")[0] if decision.offer_opt_out else None
    twiml = inbound.message_twiml(
        opt_out_digit=digit, gather_url=gather, offer_opt_out=decision.offer_opt_out
    )
    return HTTPStatus.OK, twiml
