"""TLS for the front door: server credentials (optionally mutual) and our own clients' channels.

The server speaks TLS when ``CALLENGINE_GRPC_TLS_CERT``/``_KEY`` are set; with
``CALLENGINE_GRPC_TLS_CLIENT_CA`` a client must also present a certificate that CA
signed. Our clients (demo, benchmarks) connect with TLS when
``CALLENGINE_GRPC_TLS_CA`` names the CA they trust (plus a client certificate for
mutual TLS). A plaintext listener is only for loopback, unless an operator says
``--insecure`` (e.g. behind a TLS-terminating proxy on the same host).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

import grpc

from engine.config import ApiSettings
from engine.errors import ConfigError


def _read(path: str, what: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {type(exc).__name__}") from exc
    if b"-----BEGIN" not in data:
        raise ConfigError(f"{what}: {path} is not PEM")
    return data


def server_credentials(api: ApiSettings) -> grpc.ServerCredentials | None:
    """TLS credentials for the listener, or None when no certificate is configured."""
    if not api.tls_cert_file or not api.tls_key_file:
        return None
    chain = _read(api.tls_cert_file, "CALLENGINE_GRPC_TLS_CERT")
    key = _read(api.tls_key_file, "CALLENGINE_GRPC_TLS_KEY")
    client_ca = (
        _read(api.tls_client_ca_file, "CALLENGINE_GRPC_TLS_CLIENT_CA") if api.tls_client_ca_file else None
    )
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_plaintext_bind(api: ApiSettings, bind_host: str, *, insecure: bool) -> None:
    """Refuse a non-loopback plaintext listener unless explicitly allowed."""
    if server_credentials_configured(api) or is_loopback(bind_host) or insecure:
        return
    raise ConfigError(
        f"refusing to serve plaintext gRPC on {bind_host}: set CALLENGINE_GRPC_TLS_CERT and "
        "CALLENGINE_GRPC_TLS_KEY, bind to 127.0.0.1, or pass --insecure (e.g. behind a TLS proxy)"
    )


def server_credentials_configured(api: ApiSettings) -> bool:
    return bool(api.tls_cert_file and api.tls_key_file)


def channel(
    api: ApiSettings,
    address: str,
    *,
    server_name: str | None = None,
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
) -> grpc.aio.Channel:
    """A grpc.aio channel to the front door: TLS when ``CALLENGINE_GRPC_TLS_CA`` is set."""
    if not api.tls_ca_file:
        return grpc.aio.insecure_channel(address, interceptors=interceptors)
    ca = _read(api.tls_ca_file, "CALLENGINE_GRPC_TLS_CA")
    cert = (
        _read(api.tls_client_cert_file, "CALLENGINE_GRPC_TLS_CLIENT_CERT")
        if api.tls_client_cert_file
        else None
    )
    key = (
        _read(api.tls_client_key_file, "CALLENGINE_GRPC_TLS_CLIENT_KEY") if api.tls_client_key_file else None
    )
    creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return grpc.aio.secure_channel(address, creds, options=options, interceptors=interceptors)
