"""The engine's one durable job queue: kinds, the runner that claims and runs them, the store port."""
