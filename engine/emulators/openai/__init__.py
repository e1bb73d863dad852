"""Offline OpenAI: the Realtime WebSocket (a model that pursues the instructions' goals, with tools) and chat completions.

Use :class:`~engine.emulators.openai.server.OpenAIEmulator`; point the openai
SDK at ``emulator.base_url`` with ``emulator.api_key``.
"""

from engine.emulators.openai.behaviour import ModelBehaviour
from engine.emulators.openai.options import HttpFaults, OpenAIEmulatorOptions, OpenAIFaults, RealtimeFaults
from engine.emulators.openai.server import OpenAIEmulator

__all__ = [
    "HttpFaults",
    "ModelBehaviour",
    "OpenAIEmulator",
    "OpenAIEmulatorOptions",
    "OpenAIFaults",
    "RealtimeFaults",
]
