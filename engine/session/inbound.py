"""The voice-URL route for call-backs to our caller id: one small function over a CallHost.

``await voice_webhook(host, url=..., params=..., signature=...)`` checks
Twilio's signature, reads the call, and answers with TwiML: the interview (a
CallSession started on this host for the customer's waiting session, which is
claimed first so the Dispatcher cannot dial it too) or the short message of
:mod:`engine.telephony.inbound`. A ``Digits`` parameter is the answer to the
message's opt-out ``<Gather>``. :func:`voice_route` mounts it at ``POST /voice``
on the host listener; the number's voice URL (``https://<host>/voice``, POST, as
Twilio sends by default) points there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING

from aiohttp import web

from engine.errors import CallEngineError, ValidationError
from engine.telephony import inbound, twiml

if TYPE_CHECKING:
    from engine.session.host import CallHost

log = logging.getLogger("engine.session.inbound")

VOICE_PATH = "/voice"
TWIML_CONTENT_TYPE = "text/xml"
MAX_FORM_FIELDS = 64


def voice_route(host: CallHost) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler for ``POST /voice`` (signed form body, as Twilio sends it)."""

    async def handle(request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except (web.HTTPRequestEntityTooLarge, ValueError):
            host.rejected["voice_body"] += 1
            return web.Response(status=413, text="refused\n")
        params = {k: v for k, v in list(form.items())[:MAX_FORM_FIELDS] if isinstance(v, str)}
        query = request.query_string
        url = twiml.http_base(host.public_url).rstrip("/") + VOICE_PATH + ("?" + query if query else "")
        status, body = await voice_webhook(
            host, url=url, params=params, signature=request.headers.get("x-twilio-signature")
        )
        if status is HTTPStatus.OK:
            return web.Response(status=200, text=body, content_type=TWIML_CONTENT_TYPE)
        return web.Response(status=int(status), text=body)

    return handle


async def voice_webhook(
    host: CallHost, *, url: str, params: dict[str, str], signature: str | None
) -> tuple[HTTPStatus, str]:
    """(status, body): TwiML for Twilio, or a short error text. ``url`` is the full signed URL and
    ``params`` the form body (both signed)."""
    if not host.signatures.valid(url, signature, params):
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
    gather = url if decision.offer_opt_out else None
    twiml = inbound.message_twiml(
        opt_out_digit=digit, gather_url=gather, offer_opt_out=decision.offer_opt_out
    )
    return HTTPStatus.OK, twiml
