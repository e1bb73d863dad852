"""``callengine serve`` (the front door in the cluster) and ``callengine token`` (development tokens).

Registration is cheap; Ray, gRPC and storage are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

ROLES = ("admin", "store_owner", "service")


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the gRPC front door inside Ray (starts or joins RAY_ADDRESS)",
        description="Start or join Ray, bootstrap the engine's actors and one ingress actor per node "
        "offering the 'ingress' resource, print where the front door listens, and wait. "
        "Ctrl-C shuts down gracefully.",
    )
    serve.add_argument(
        "--port", type=int, default=None, help="gRPC port (default CALLENGINE_GRPC_PORT or 50051)"
    )
    serve.add_argument("--grace", type=float, default=None, help="seconds in-flight RPCs get on shutdown")
    serve.add_argument(
        "--insecure",
        action="store_true",
        help="allow plaintext gRPC on a non-loopback address (only behind a TLS-terminating proxy)",
    )
    serve.set_defaults(func=serve_command)

    token = subparsers.add_parser(
        "token",
        help="print a bearer token for the gRPC API (development)",
        description="Mint an HS256 JWT with CALLENGINE_JWT_SECRET (or the development key in the data dir).",
    )
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument(
        "--store", action="append", default=[], metavar="STORE_ID", help="store id (repeatable; store_owner)"
    )
    token.add_argument("--subject", default=None, help="the token's sub claim (default: a new UUID)")
    token.add_argument("--ttl", type=float, default=3600.0, help="lifetime in seconds (default 3600)")
    token.add_argument(
        "--check",
        metavar="HOST:PORT",
        default=None,
        help="then ask the front door there for its health (TLS when CALLENGINE_GRPC_TLS_CA is set)",
    )
    token.set_defaults(func=token_command)


def token_command(args: argparse.Namespace) -> int:
    from engine.api.auth import authority_from_settings
    from engine.config import Settings
    from engine.domain import Role

    try:
        stores = [uuid.UUID(s) for s in args.store]
    except ValueError:
        print("error: --store must be a UUID", file=sys.stderr)
        return 2
    role = Role(args.role)
    if role is Role.STORE_OWNER and not stores:
        print("error: --role store_owner needs at least one --store", file=sys.stderr)
        return 2
    if args.ttl <= 0:
        print("error: --ttl must be > 0", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    authority = authority_from_settings(settings)
    token = authority.mint(args.subject or str(uuid.uuid4()), role, stores, ttl_seconds=args.ttl)
    print(token)
    if args.check:
        return _check_token(settings, args.check, token)
    return 0


def _check_token(settings: Any, address: str, token: str) -> int:
    """Ask the front door at ``address`` whether it serves and accepts ``token`` (TLS when configured)."""
    import asyncio

    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from engine.api.gen import callengine_pb2 as pb
    from engine.api.gen import callengine_pb2_grpc as pb_grpc
    from engine.api.tls import channel

    async def check() -> int:
        async with channel(settings.api, address) as ch:
            health = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)
            try:  # an unknown session: NOT_FOUND means the token was accepted
                await pb_grpc.CallEngineStub(ch).GetCall(
                    pb.GetCallRequest(session_id=str(uuid.uuid4())),
                    metadata=(("authorization", f"Bearer {token}"),),
                    timeout=10,
                )
            except grpc.aio.AioRpcError as exc:
                accepted = exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)
                print(
                    f"{address}: {status}; token {'accepted' if accepted else exc.code().name}",
                    file=sys.stderr,
                )
                return 0 if accepted and status == "SERVING" else 1
        return 1

    try:
        return asyncio.run(check())
    except grpc.aio.AioRpcError as exc:
        print(f"error: {address}: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1


INGRESS_RESCAN_SECONDS = 15.0
"""How often ``serve`` looks for new nodes offering ``ingress``."""


def serve_command(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    import threading

    import ray

    from actors import bootstrap
    from actors._ray import CALL_HUB, CONTROL
    from actors.ingress import INGRESS_RESOURCE, refresh_ingress, start_ingress, stop_ingress
    from engine.api.tls import check_plaintext_bind
    from engine.config import Settings
    from engine.logs import get_logger
    from storage.database import Database

    log = get_logger("engine.api.serve")
    settings = Settings.from_env()
    check_plaintext_bind(settings.api, settings.api.bind_host, insecure=args.insecure)
    from engine.telephony.security import check_auth_token

    check_auth_token(settings.twilio.auth_token.get())  # hosts would refuse it later, one by one
    port = settings.api.port if args.port is None else args.port
    grace = settings.api.shutdown_grace_seconds if args.grace is None else args.grace

    # Embedded: migrate (and start PostgreSQL) once here; the actors only connect. An external
    # database is migrated by `callengine db upgrade` (the owner); serve only checks the schema.
    embedded = not (settings.database.url or settings.database.app_url)
    db = asyncio.run(Database.open(settings, upgrade=embedded))
    local = not settings.ray_address
    # A local Ray is one node offering the front door, call slots and the control actors
    # (as the demo does); a cluster's nodes say what they offer themselves.
    # address="local": a fresh cluster of our own, never one someone else started here.
    local_resources = {INGRESS_RESOURCE: 1, CALL_HUB: 4, CONTROL: 1}
    bootstrap.ensure_ray(settings, **({"address": "local", "resources": local_resources} if local else {}))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ingresses = []
    try:
        bootstrap.start_engine(settings)
        ingresses = start_ingress(settings, port)
        for ingress in ingresses:
            print(
                f"callengine front door listening on {ingress.address} (node {ingress.node_id[:12]})",
                flush=True,
            )
        print("Ctrl-C to stop.", flush=True)
        # Nodes join and leave (the autoscaler): a front door on each new one offering ingress.
        while not stop.wait(INGRESS_RESCAN_SECONDS):
            try:
                ingresses, added = refresh_ingress(settings, port, ingresses)
            except Exception as exc:  # a slow new node: tried again next round
                log.warning("front door on new nodes: %s: %s", type(exc).__name__, exc)
                continue
            for ingress in added:
                print(f"callengine front door listening on {ingress.address} (new node)", flush=True)
        log.info("shutting down (grace %.1f s)", grace)
    finally:
        if ingresses:
            stop_ingress(ingresses, grace)
        if local:
            # The local cluster ends with us: stop the engine's actors cleanly first.
            bootstrap.stop_engine()
        asyncio.run(db.close())
        ray.shutdown()
    return 0
