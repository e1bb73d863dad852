"""Storage: PostgreSQL models, migrations, RLS, field encryption, repositories, retention.

Entry points: ``Database.open(settings)``, ``db.transaction(principal)`` → ``Tx`` with the
repositories (``tx.sessions``, ``tx.transcripts`` …), ``Principal``, and the records in
``storage.records``. See docs/storage.md.
"""

from storage.database import Database
from storage.principal import Principal
from storage.tx import Tx

__all__ = ["Database", "Principal", "Tx"]
