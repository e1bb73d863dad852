"""Outgoing events to backend services: what happened (types, payloads), signed webhooks, the feed."""
