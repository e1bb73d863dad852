"""What every engine actor does first, in its own process: logging, then its node's settings.

``enter(settings)`` is the first line of each actor's constructor (Dispatcher,
Reporter, analysis workers, SessionHosts, ingress):

- Logging: JSON lines with the personal-data mask over the whole output (tracebacks
  included), so the processes that hold phone numbers and transcripts log privately.
- Settings: the object Ray delivered carries no secret values (each :class:`Secret`
  pickles as its name and was looked up on *this* node when unpickled); the host
  section is re-read from this node's environment (:meth:`Settings.on_this_node`).

For a local Ray (the demo, tests, ``callengine serve`` without ``RAY_ADDRESS``) the
driver shares its secrets with the workers on the same machine through a private
directory (:func:`local_secrets_dir`, :func:`share_secrets`): a 0700 directory
named in ``CALLENGINE_SECRETS_DIR`` before Ray starts, so every worker inherits the
name and reads the files. Nothing secret goes through Ray itself.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.config import SECRETS_DIR_ENV, Settings, publish_secrets
from engine.logs import configure_logging

_local_dir: Path | None = None


def enter(settings: Settings) -> Settings:
    """Configure this worker's logging and return ``settings`` as this node sees them."""
    configure_logging(json=True)
    return settings.on_this_node()


def local_secrets_dir() -> Path:
    """Create (once) this driver's private secrets directory and name it in the environment.

    Call before starting a local Ray, so its workers inherit ``CALLENGINE_SECRETS_DIR``.
    An operator-provided ``CALLENGINE_SECRETS_DIR`` is left alone (and never written to).
    """
    global _local_dir
    if _local_dir is None:
        if os.environ.get(SECRETS_DIR_ENV):
            return Path(os.environ[SECRETS_DIR_ENV])
        _local_dir = Path(tempfile.mkdtemp(prefix="callengine-secrets-"))
        os.environ[SECRETS_DIR_ENV] = str(_local_dir)
    return _local_dir


def share_secrets(settings: Settings) -> None:
    """Write ``settings``' secrets for local workers, if this driver made a private directory."""
    if _local_dir is not None:
        publish_secrets(settings, _local_dir)
