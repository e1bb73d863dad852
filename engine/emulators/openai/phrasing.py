"""How the emulated model says things: several wordings per move, numbers as words, Swedish or English.

``verbatim`` picks the first wording of every move and asks the configured
question texts unchanged (tests that need exact text); ``paraphrase`` (the
default, as a real model) picks among the wordings with the session's RNG and
rephrases the questions. Every opening names the AI, the store, the purpose,
that the call is transcribed and not recorded, the opt-out key, and asks for
consent; every closing states the reward range and says goodbye.
"""

from __future__ import annotations

import random
import re

from engine.emulators.openai.goals import Goals, Question

_SV_NUMBERS = (
    "noll ett två tre fyra fem sex sju åtta nio tio elva tolv tretton fjorton femton sexton sjutton arton "
    "nitton tjugo"
).split()
_EN_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
).split()
_KEYS = {"*": ("stjärna", "star"), "#": ("fyrkant", "hash")}
_DIGITS = re.compile(r"\b\d{1,2}\b")


def number(n: int, lang: str = "sv") -> str:
    words = _EN_NUMBERS if lang == "en" else _SV_NUMBERS
    return words[n] if 0 <= n < len(words) else str(n)


def key_name(key: str, lang: str = "sv") -> str:
    if key in _KEYS:
        return _KEYS[key][1 if lang == "en" else 0]
    return number(int(key), lang) if key.isdigit() else key


def spell_numbers(text: str, lang: str = "sv") -> str:
    """Small numbers as words, as a voice says them (and its transcript shows)."""
    return _DIGITS.sub(lambda m: number(int(m.group()), lang), text)


class Phrasing:
    def __init__(self, goals: Goals | None, rng: random.Random, *, verbatim: bool = False) -> None:
        self.goals = goals
        self.rng = rng
        self.verbatim = verbatim

    def _pick(self, options: list[str]) -> str:
        return options[0] if self.verbatim else self.rng.choice(options)

    # ------------------------------------------------------------------ opening
    def opening(self) -> str:
        g = self.goals
        store = g.store if g else "butiken"
        key = key_name(g.opt_out_digit if g else "9")
        intro = self._pick(
            [
                f"Hej! Jag är en AI-assistent som ringer på uppdrag av {store} om ditt köp, så att butiken "
                "kan bli bättre.",
                f"Hej, det här är en AI-assistent från {store}. Butiken vill gärna veta hur ditt besök var.",
                f"Hej! Du pratar med en AI-assistent som ringer för {store}, för att höra vad du tyckte om "
                "ditt köp.",
            ]
        )
        privacy = self._pick(
            [
                f"Samtalet skrivs ned men spelas inte in. Tryck {key} om du aldrig vill bli uppringd igen.",
                f"Inget spelas in, samtalet skrivs bara ned, och trycker du {key} ringer vi aldrig mer.",
                f"Vi skriver ned samtalet men spelar inte in det. Tryck {key} så blir du aldrig uppringd igen.",
            ]
        )
        ask = self._pick(
            [
                "Går det bra med några korta frågor?",
                "Har du en minut för några frågor?",
                "Är det okej med några snabba frågor?",
            ]
        )
        return f"{intro} {privacy} {ask}"

    # ------------------------------------------------------------------ questions
    def question(self, q: Question, *, first: bool, lang: str, resumed: bool = False) -> str:
        lead = ""
        if resumed:
            lead = (
                self._pick(
                    [
                        "Förra gången bröts samtalet, så vi fortsätter där vi slutade.",
                        "Vi blev avbrutna sist, så jag tar de frågor som är kvar.",
                    ]
                    if lang != "en"
                    else ["We were cut off last time, so let's continue where we left off."]
                )
                + " "
            )
        if lang == "en":
            words = _topic_words(q.topic)
            topic = q.department or (words if words != "det" else q.topic)
            body = self._pick(
                [
                    f"The store would like to know: {topic} – how was that for you today?",
                    f"About {topic}: what did you think of it?",
                    f"Could you tell me how you found {topic}?",
                ]
            )
            return lead + body
        if self.verbatim:
            return lead + q.topic
        pre = self._pick(
            ["", "Först: " if first else "Nästa fråga: ", "Då undrar jag: " if not first else ""]
        )
        body = self._rephrase(q)
        if pre:
            body = body[:1].lower() + body[1:]
        return lead + pre + body

    def _rephrase(self, q: Question) -> str:
        topic = q.topic.strip()
        m = re.match(r"(?i)^hur upplevde du (.+?)( i dag)?\?$", topic)
        if m:
            thing = m.group(1)
            return self._pick(
                [
                    f"Hur upplevde du {thing}?",
                    f"Vad tyckte du om {thing} den här gången?",
                    f"Hur var det med {thing} när du var där?",
                    f"Berätta gärna hur {thing} kändes i dag.",
                ]
            )
        m = re.match(r"(?i)^vad tyckte du om (.+?)\?$", topic)
        if m:
            thing = m.group(1)
            return self._pick(
                [
                    f"Vad tyckte du om {thing}?",
                    f"Hur upplevde du {thing}?",
                    f"Vad är ditt intryck av {thing}?",
                ]
            )
        lowered = topic[:1].lower() + topic[1:]
        return self._pick([topic, f"Jag undrar: {lowered}", f"Butiken vill gärna veta: {lowered}"])

    def follow_up(self, q: Question, lang: str) -> str:
        thing = q.department or _topic_words(q.topic)
        if lang == "en":
            return self._pick(
                [
                    f"Could you tell me a bit more about {thing}? What stood out?",
                    f"What exactly was it about {thing} that you noticed?",
                ]
            )
        return self._pick(
            [
                f"Kan du berätta lite mer om {thing}? Vad var det som märktes mest?",
                f"Vad var det mer precis med {thing} som du tänkte på?",
                f"Har du något exempel från {thing}? Det hjälper butiken mycket.",
            ]
        )

    def again(self, q: Question | None, lang: str) -> str:
        lead = (
            "Sorry, I didn't catch that."
            if lang == "en"
            else self._pick(["Förlåt, det hörde jag inte riktigt.", "Ursäkta, jag uppfattade inte det."])
        )
        if q is None:
            return lead
        return f"{lead} {self.question(q, first=False, lang=lang)}"

    def resume(self, q: Question | None, lang: str) -> str:
        """Asked to speak with nothing new from the customer (e.g. a restored session): ask again."""
        lead = (
            "Sorry, we were cut off for a moment."
            if lang == "en"
            else self._pick(["Förlåt, där bröts det visst en stund.", "Ursäkta, samtalet hackade till."])
        )
        if q is None:
            return lead
        return f"{lead} {self.question(q, first=False, lang=lang)}"

    def consent_again(self, lang: str) -> str:
        if lang == "en":
            return "Sorry, I didn't catch that. Is it all right if I ask a few short questions?"
        return self._pick(
            [
                "Förlåt, det hörde jag inte. Går det bra att jag ställer några korta frågor?",
                "Ursäkta, jag uppfattade inte svaret. Är det okej med några korta frågor?",
            ]
        )

    def reminder(self, q: Question | None, lang: str) -> str:
        if lang == "en":
            base = "Hello, are you still there?"
        else:
            base = self._pick(
                ["Hallå, är du kvar?", "Är du fortfarande kvar i luren?", "Hörs jag? Är du kvar?"]
            )
        if q is None:
            return base
        return f"{base} {self.question(q, first=False, lang=lang)}"

    # ------------------------------------------------------------------ endings
    def closing(self, lang: str) -> str:
        g = self.goals
        low, high = (g.reward_min, g.reward_max) if g else (2, 15)
        if lang == "en":
            return self._pick(
                [
                    f"Thank you so much! Depending on how detailed your feedback was, you get between "
                    f"{number(low, 'en')} and {number(high, 'en')} percent back on your purchase. Goodbye!",
                    f"That's all, thanks! You'll get {number(low, 'en')} to {number(high, 'en')} percent "
                    "back on the purchase, depending on your answers. Bye!",
                ]
            )
        return self._pick(
            [
                f"Tack för dina svar! Beroende på hur utförlig din feedback är får du mellan "
                f"{number(low)} och {number(high)} procent tillbaka på köpet. Hej då!",
                f"Stort tack, det var allt! Du får {number(low)} till {number(high)} procent tillbaka på "
                "köpet, beroende på hur utförliga svaren var. Ha det bra, hej då!",
                f"Tack så mycket för att du tog dig tid. Återbäringen blir mellan {number(low)} och "
                f"{number(high)} procent av köpet, beroende på hur utförligt du svarade. Hej då!",
            ]
        )

    def declined(self) -> str:
        return self._pick(
            [
                "Jag förstår, då ska jag inte störa mer. Ha en fin dag, hej då!",
                "Inga problem, tack ändå och hej då!",
                "Det är helt okej. Tack för att du svarade, hej då!",
            ]
        )

    def opted_out(self, lang: str) -> str:
        if lang == "en":
            return "Understood, we won't call you again. Goodbye!"
        return self._pick(
            [
                "Jag förstår, vi ringer dig inte igen. Hej då!",
                "Självklart, du blir inte uppringd fler gånger. Ha det bra, hej då!",
            ]
        )

    def wrong_person(self) -> str:
        return self._pick(["Oj, förlåt att jag störde. Hej då!", "Ursäkta, då har jag ringt fel. Hej då!"])

    def callback(self) -> str:
        return self._pick(
            [
                "Självklart, vi ringer dig en annan gång. Hej då!",
                "Inga problem, vi hör av oss senare. Ha det bra, hej då!",
            ]
        )

    def language_barrier(self) -> str:
        return "Förlåt, jag kan bara prata svenska eller engelska. Sorry, I only speak Swedish or English. Hej då, goodbye!"

    def after_end(self) -> str:
        return self._pick(["Hej då igen!", "Ha det så bra!"])


def _topic_words(topic: str) -> str:
    """The thing a question is about, for a follow-up ("Hur upplevde du bageriet?" → "bageriet")."""
    m = re.match(r"(?i)^(?:hur upplevde du|vad tyckte du om|hur var)\s+(.+?)(?: i dag)?\?*$", topic.strip())
    return m.group(1) if m else "det"
