"""One attempt's plan: the script, and the Realtime session it configures (instructions, tools, transcription).

The ``session.update`` is rebuilt whenever a Realtime socket opens, so a
socket restored mid-call gets instructions without the questions answered so
far in this call, as a retry gets them without those of earlier attempts.
"""

from __future__ import annotations

from engine.config import Settings
from engine.realtime import events as rt
from engine.session.control import InterviewControl
from engine.session.conversation import BusinessContext, InterviewProgress, Script, build_script
from engine.session.prompt import LANGUAGES, render_instructions, transcription_keywords
from engine.session.tools import tool_definitions


class SessionPlan:
    def __init__(
        self,
        context: BusinessContext,
        session_id: str,
        settings: Settings,
        progress: InterviewProgress | None = None,
    ) -> None:
        self.context = context
        self.session_id = session_id
        self.settings = settings
        self.progress = progress or InterviewProgress()
        self.script: Script = build_script(context, session_id, progress)
        self._keywords = transcription_keywords(self.script, context)

    def current_script(self, control: InterviewControl | None = None) -> Script:
        """The script with this call's progress taken out too (the resumed flag stays as it was)."""
        if control is None or not (control.answered or control.skipped):
            return self.script
        progress = InterviewProgress(
            answered=self.progress.answered | frozenset(control.answered),
            skipped=self.progress.skipped | frozenset(control.skipped),
            attempts=self.progress.attempts,
        )
        script = build_script(self.context, self.session_id, progress)
        return Script(
            store_name=script.store_name,
            questions=script.questions,
            remaining=script.remaining,
            resumed=self.script.resumed,
        )

    def instructions(self, control: InterviewControl | None = None) -> str:
        s = self.settings.session
        return render_instructions(
            self.current_script(control),
            self.context,
            opt_out_digit=s.opt_out_dtmf,
            max_call_seconds=s.max_call_seconds,
            consented=control is not None and control.consented,
        )

    def session_update(self, control: InterviewControl | None = None) -> str:
        openai = self.settings.openai
        return rt.session_update(
            instructions=self.instructions(control),
            voice=openai.voice,
            tools=tool_definitions(),
            transcription=rt.transcription_config(openai.transcription_model, LANGUAGES, self._keywords),
        )
