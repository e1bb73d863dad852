"""One call from dial to hang-up (plain asyncio, no Ray). See docs/session.md.

The Ray SessionHost actor uses :class:`engine.session.host.CallHost`,
:class:`engine.session.call.CallRequest` and :class:`engine.session.call.SessionOutcome`.
"""
