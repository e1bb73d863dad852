"""Offline stand-ins for Twilio and OpenAI, with simulated customers.

- ``engine.emulators.twilio``: Calls REST API, status callbacks, Media Streams (``TwilioEmulator``).
- ``engine.emulators.openai``: Realtime WebSocket + chat completions (``OpenAIEmulator``).
- ``engine.emulators.scenarios``: scenario files (who answers, what they say), the default set.
- ``engine.emulators.customer``: the simulated callers that speak on a media stream.
- ``engine.emulators.speech``: speech that carries its text (the codec both sides use).
- ``callengine emulate`` (``engine.emulators.cli``) runs them all; see docs/emulators.md.

Nothing is imported here, so ``import engine.emulators.x`` stays cheap.
"""
