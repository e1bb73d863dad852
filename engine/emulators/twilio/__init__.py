"""Offline Twilio: Calls REST API, call progression, signed status callbacks, Media Streams."""

from engine.emulators.twilio.calllog import CallbackRecord, CallRecord
from engine.emulators.twilio.options import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    TwilioEmulatorOptions,
    TwilioFaults,
)
from engine.emulators.twilio.server import TwilioEmulator

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "CallRecord",
    "CallbackRecord",
    "TwilioEmulator",
    "TwilioEmulatorOptions",
    "TwilioFaults",
]
