"""Async repositories, one module per aggregate. Reach them through ``Tx`` (``tx.sessions`` …)."""
