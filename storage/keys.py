"""Key material from settings, or generated once for the embedded development database."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from engine.config import DatabaseSettings
from engine.errors import ConfigError
from storage.crypto import BlindIndex, KeyRing, new_key_b64

log = logging.getLogger(__name__)

DEV_KEYS_FILE = "dev-keys.json"


def load(settings: DatabaseSettings, *, embedded: bool) -> tuple[KeyRing, BlindIndex]:
    """Key ring and blind index from settings; dev keys in the data dir only when embedded."""
    enc = settings.encryption_keys.get()
    bidx = settings.blind_index_key.get()
    if not enc or not bidx:
        if not embedded:
            raise ConfigError(
                "CALLENGINE_ENCRYPTION_KEYS and CALLENGINE_BLIND_INDEX_KEY are required with DATABASE_URL"
            )
        dev = _dev_keys(settings.data_dir / DEV_KEYS_FILE)
        enc = enc or dev["encryption_keys"]
        bidx = bidx or dev["blind_index_key"]
    return KeyRing.parse(enc, settings.active_key_id), BlindIndex.parse(bidx)


def _dev_keys(path: Path) -> dict[str, str]:
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return {
                "encryption_keys": str(data["encryption_keys"]),
                "blind_index_key": str(data["blind_index_key"]),
            }
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{path}: unreadable development key file") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"encryption_keys": f"dev1:{new_key_b64()}", "blind_index_key": new_key_b64()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    log.info("generated development encryption keys in %s (embedded database only)", path)
    return data
