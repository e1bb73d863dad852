"""Twilio: Media Streams codec, TwiML, signatures and stream tokens, async Calls REST."""
