"""The demo's backend service receiving the engine's webhooks: HTTPS on 127.0.0.1, signatures checked.

It runs in its own thread (its own event loop), started before the engine so the
engine's settings can name its URL, its signing secret and the CA its certificate
was issued by (both made here, per run, with ``cryptography``). Every delivery is
verified with :func:`engine.events.signing.verify`; a bad one is answered 401 and
counted. Repeats of an event id (at-least-once delivery) are kept once.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import ipaddress
import json
import os
import ssl
import threading
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from engine.events import signing

ENDPOINT = "demo-backend"
PATH = "/callengine/events"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A one-day CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key) files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("callengine demo backend CA"))
        .issuer_name(_name("callengine demo backend CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = directory / "backend-ca.pem", directory / "backend.pem", directory / "backend.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(paths[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return paths


class DemoBackend:
    """Start with :meth:`start` (returns the engine settings naming it), stop with :meth:`stop`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._key = os.urandom(32)
        self.events: dict[str, dict[str, Any]] = {}
        """Verified events by id (the first delivery of each)."""
        self.deliveries = 0
        self.bad_signatures = 0
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="demo-backend", daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def secret(self) -> str:
        return "whsec_" + base64.b64encode(self._key).decode()

    def start(self) -> dict[str, str]:
        ca, cert, key = make_certificates(self.directory)
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._serve(cert, key), self._loop).result(30)
        return {
            "CALLENGINE_WEBHOOK_ENDPOINTS": f"{ENDPOINT}={self.url}",
            "CALLENGINE_WEBHOOK_SECRETS": f"{ENDPOINT}={self.secret}",
            "CALLENGINE_WEBHOOK_CA_FILE": str(ca),
            "CALLENGINE_WEBHOOK_BACKOFF": "1,2,5",
        }

    async def _serve(self, cert: Path, key: Path) -> str:
        app = web.Application(client_max_size=256 * 1024)
        app.router.add_post(PATH, self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"https://127.0.0.1:{port}{PATH}"

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event_id = signing.verify(body, dict(request.headers), self._key)
            event = json.loads(body)
        except (signing.SignatureError, ValueError):
            with self._cond:
                self.bad_signatures += 1
            return web.Response(status=401)
        with self._cond:
            self.deliveries += 1
            self.events.setdefault(event_id, event)
            self._cond.notify_all()
        return web.json_response({"received": event_id})

    def settled(self) -> dict[str, dict[str, Any]]:
        """call.settled events by session id."""
        with self._cond:
            return {e["subject"]: e for e in self.events.values() if e["type"] == "call.settled"}

    def counts(self) -> dict[str, int]:
        with self._cond:
            return dict(collections.Counter(e["type"] for e in self.events.values()))

    def wait_for_settled(self, session_ids: set[str], timeout_s: float) -> set[str]:
        """Wait until each session's call.settled arrived (or the timeout); the ones still missing."""

        def missing() -> set[str]:
            have = {e["subject"] for e in self.events.values() if e["type"] == "call.settled"}
            return session_ids - have

        with self._cond:
            self._cond.wait_for(lambda: not missing(), timeout_s)
            return missing()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
