"""Plaintext gRPC only on loopback unless --insecure (certificates from a CA made in the test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import tls
from engine.config import ApiSettings
from engine.errors import ConfigError
from tests.fixtures.tls import TestCA


def test_plaintext_only_on_loopback_unless_insecure(tmp_path: Path) -> None:
    plain = ApiSettings()
    tls.check_plaintext_bind(plain, "127.0.0.1", insecure=False)
    tls.check_plaintext_bind(plain, "::1", insecure=False)
    with pytest.raises(ConfigError, match="--insecure"):
        tls.check_plaintext_bind(plain, "0.0.0.0", insecure=False)
    tls.check_plaintext_bind(plain, "0.0.0.0", insecure=True)
    ca = TestCA(tmp_path)
    pem = ca.issue("localhost", server=True)
    secured = ApiSettings(tls_cert_file=str(pem.cert), tls_key_file=str(pem.key))
    tls.check_plaintext_bind(secured, "0.0.0.0", insecure=False)
