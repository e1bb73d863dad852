"""The reward ledger: money as Decimal with a currency (``money``) and the entry's state machine (``ledger``)."""
