"""OpenAI Realtime: connection (the SDK's URL/header rules) and the msgspec event codec."""
