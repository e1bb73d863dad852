"""Offline Chat Completions (`POST /v1/chat/completions`), structured outputs included.

``ChatCompletionsEmulator.handle(body)`` returns ``(status, json)`` in the
shapes the ``openai`` SDK parses (a ``chat.completion`` or an ``error`` body); the OpenAI emulator server mounts it. For the
engine's own schemas (json_schema ``name`` ``CallAssessment``,
``ContentFraudCheck``, ``WeeklyThemes``; see ``engine/analysis/llm.py``) the
values are computed deterministically from the prompt, so longer, more
specific answers score deeper and generic ones look suspicious. Any other
schema gets a valid instance. Faults: 429/500 bursts and added latency.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

# Prompt sections, as written by engine/analysis/llm.py (kept in step by a unit test).
CONTEXT_MARK = "### BUTIK"
TRANSCRIPT_MARK = "### SAMTAL"
STATS_MARK = "### STATISTIK"
END_MARK = "### SLUT"

_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_WORD_RE = re.compile(r"[a-zåäöéü0-9]+")
_GENERIC = frozenset(
    "bra|det var bra|allt var bra|helt okej|okej|ok|ja|nej|vet inte|jag vet inte|ingen aning|"
    "inget|inget speciellt|inget särskilt|fint|det var fint|som vanligt|minns inte".split("|")
)
_NEGATIVE = (
    "dålig",
    "kö",
    "slut",
    "saknade",
    "dyr",
    "otrevlig",
    "smutsig",
    "långsam",
    "väntade",
    "borde",
    "gammal",
)
_TIME_RE = re.compile(r"\bkl(ockan)?\b|\b\d{1,2}[:.]\d{2}\b|\bi (morse|går|kväll)\b|\blunch")


@dataclasses.dataclass
class ChatFaults:
    """Fault knobs. A burst answers the next ``burst_remaining`` requests with ``burst_status``."""

    burst_status: int = 429
    """429 (rate limit) or 500/503 (server error)."""
    burst_remaining: int = 0
    latency_seconds: float = 0.0
    """Added before every answer."""


class ChatCompletionsEmulator:
    def __init__(
        self,
        faults: ChatFaults | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.faults = faults or ChatFaults()
        self._sleep = sleep
        self._clock = clock
        self._counter = 0
        self.requests: list[dict[str, Any]] = []
        """Bodies received (for tests); bounded to the last 1000."""

    def inject_burst(self, status: int, count: int) -> None:
        """The next ``count`` requests fail with ``status`` (429 or 5xx)."""
        self.faults.burst_status = status
        self.faults.burst_remaining = count

    async def handle(self, body: Any) -> tuple[int, dict[str, Any]]:
        self.requests.append(body if isinstance(body, dict) else {"_invalid": True})
        del self.requests[:-1000]
        if self.faults.latency_seconds > 0:
            await self._sleep(self.faults.latency_seconds)
        if self.faults.burst_remaining > 0:
            self.faults.burst_remaining -= 1
            status = self.faults.burst_status
            kind = "rate_limit_exceeded" if status == 429 else "server_error"
            return status, _error(f"Emulated {status} burst", kind, None, kind)
        problem = _validate(body)
        if problem is not None:
            message, param = problem
            return 400, _error(message, "invalid_request_error", param, "invalid_value")
        try:
            return 200, self._completion(body)
        except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
            # Schemas the generator cannot instantiate (e.g. non-object nodes): a client error, not a crash.
            return 400, _error(
                f"Unsupported request: {type(exc).__name__}", "invalid_request_error", None, None
            )

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        self._counter += 1
        tool = _tool_to_call(body)
        reply: dict[str, Any]
        if tool is not None:
            fn = tool["function"]
            params = fn.get("parameters") or {"type": "object", "properties": {}}
            arguments = json.dumps(instance_of(params, params, fn["name"]), ensure_ascii=False)
            content = arguments
            reply = {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": f"call_local{self._counter}",
                        "type": "function",
                        "function": {"name": fn["name"], "arguments": arguments},
                    }
                ],
            }
            finish = "tool_calls"
        else:
            content = _answer(body)
            reply = {"role": "assistant", "content": content, "refusal": None}
            finish = "stop"
        prompt_chars = sum(len(_text(m.get("content"))) for m in body["messages"])
        prompt_tokens = max(1, prompt_chars // 4)
        completion_tokens = max(1, len(content) // 4)
        return {
            "id": f"chatcmpl-local{self._counter}",
            "object": "chat.completion",
            "created": int(self._clock()),
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": finish, "logprobs": None, "message": reply}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _error(message: str, kind: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _validate(body: Any) -> tuple[str, str | None] | None:
    if not isinstance(body, dict):
        return "Request body must be a JSON object.", None
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter", "model"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array.", "messages"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            return f"Invalid value for 'messages[{i}].role'.", f"messages[{i}].role"
        if "content" in m and m["content"] is not None and not isinstance(m["content"], str | list):
            return f"Invalid type for 'messages[{i}].content'.", f"messages[{i}].content"
    if body.get("stream"):
        return "Streaming is not supported by the offline emulator.", "stream"
    if body.get("n") not in (None, 1):
        return "The offline emulator supports only n=1.", "n"
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            return "Invalid type for 'tools': expected an array.", "tools"
        for i, t in enumerate(tools):
            fn = t.get("function") if isinstance(t, dict) else None
            if (
                not isinstance(fn, dict)
                or t.get("type") != "function"
                or not _NAME_RE.match(str(fn.get("name", "")))
            ):
                return f"Invalid value for 'tools[{i}]'.", f"tools[{i}]"
            if fn.get("strict"):
                bad = _strict_problem(fn.get("parameters") or {}, "")
                if bad:
                    return (
                        f"Invalid schema for function '{fn['name']}': {bad}",
                        f"tools[{i}].function.parameters",
                    )
    rf = body.get("response_format")
    if rf is None:
        return None
    if not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object", "json_schema"):
        return "Invalid value for 'response_format.type'.", "response_format.type"
    if rf["type"] != "json_schema":
        return None
    js = rf.get("json_schema")
    if not isinstance(js, dict):
        return "Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema"
    if not isinstance(js.get("name"), str) or not _NAME_RE.match(js["name"]):
        return "Invalid 'response_format.json_schema.name'.", "response_format.json_schema.name"
    schema = js.get("schema")
    if not isinstance(schema, dict):
        return "Invalid schema: must be a JSON object.", "response_format.json_schema.schema"
    if js.get("strict"):
        bad = _strict_problem(schema, "")
        if bad:
            return f"Invalid schema for response_format '{js['name']}': {bad}", "response_format"
    return None


def _strict_problem(node: Any, path: str) -> str | None:
    """The first violation of the strict-mode rules OpenAI enforces, or None."""
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            if node.get("additionalProperties") is not False:
                return f"In context={path or '()'}, 'additionalProperties' is required to be supplied and to be false."
            props = node.get("properties", {})
            missing = sorted(set(props) - set(node.get("required", [])))
            if missing:
                return f"In context={path or '()'}, 'required' is required to include every key in properties. Missing '{missing[0]}'."
        for key, value in node.items():
            found = _strict_problem(value, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _strict_problem(value, f"{path}[{i}]")
            if found:
                return found
    return None


def _tool_to_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool the emulated model calls: a named/required choice, or (auto) when the user spoke last."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return next((t for t in tools if t["function"]["name"] == name), None)
    last = body["messages"][-1]
    if choice == "required" or last.get("role") == "user":
        return dict(tools[0])
    return None


def _answer(body: dict[str, Any]) -> str:
    rf = body.get("response_format") or {"type": "text"}
    user = "\n".join(_text(m.get("content")) for m in body["messages"] if m.get("role") == "user")
    if rf["type"] == "json_object":
        return json.dumps({"result": "ok"})
    if rf["type"] == "text":
        return "OK (offline emulator)."
    js = rf["json_schema"]
    handler = _OWN_SCHEMAS.get(js["name"])
    if handler is not None:
        try:
            return json.dumps(handler(user), ensure_ascii=False)
        except (TypeError, ValueError, AttributeError, KeyError):
            pass  # a prompt not written by the engine: answer like any other schema
    schema = js["schema"]
    return json.dumps(instance_of(schema, schema, js["name"]), ensure_ascii=False)


# --- generic schema instances ------------------------------------------------------------------


def instance_of(node: dict[str, Any], root: dict[str, Any], name: str = "value", depth: int = 0) -> Any:
    """A deterministic instance that validates against ``node`` (refs resolved in ``root``)."""
    if depth > 12:
        return None
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return instance_of(target, root, name, depth + 1)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    for key in ("anyOf", "oneOf"):
        if node.get(key):
            options = sorted(node[key], key=lambda o: o.get("type") == "null")
            return instance_of(options[0], root, name, depth + 1)
    if node.get("allOf"):
        return instance_of(node["allOf"][0], root, name, depth + 1)
    kind = node.get("type", "object" if "properties" in node else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = node.get("properties", {})
        return {k: instance_of(v, root, k, depth + 1) for k, v in props.items()}
    if kind == "array":
        count = max(1, int(node.get("minItems", 1)))
        if "maxItems" in node:
            count = min(count, int(node["maxItems"]))
        item = node.get("items", {})
        return [instance_of(item, root, name, depth + 1) for _ in range(count)]
    if kind == "string":
        fmt = node.get("format")
        if fmt == "date-time":
            return "2026-01-05T12:00:00Z"
        if fmt == "date":
            return "2026-01-05"
        return f"example {name}"
    if kind == "integer":
        return int(node.get("minimum", 1))
    if kind == "number":
        return float(node.get("minimum", 0.5))
    if kind == "boolean":
        return False
    return None


# --- the engine's own schemas ------------------------------------------------------------------


def _section(text: str, mark: str) -> str:
    start = text.find(mark)
    if start < 0:
        return ""
    rest = text[start + len(mark) :]
    end = min((i for i in (rest.find("\n###"),) if i >= 0), default=len(rest))
    return rest[:end].strip()


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _parse_call(prompt: str) -> tuple[dict[str, Any], list[str]]:
    try:
        context = json.loads(_section(prompt, CONTEXT_MARK) or "{}")
    except json.JSONDecodeError:
        context = {}
    answers = [
        line[5:].strip()
        for line in _section(prompt, TRANSCRIPT_MARK).splitlines()
        if line.startswith("KUND:") and line[5:].strip()
    ]
    return (context if isinstance(context, dict) else {}), answers


def _terms(context: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for dep in context.get("departments") or []:
        if isinstance(dep, dict) and isinstance(dep.get("name"), str):
            out[dep["name"]] = [dep["name"], *dep.get("aliases", []), *dep.get("products", [])]
    return out


def _named(text: str, phrases: list[str]) -> bool:
    norm = " ".join(_words(text))
    return any(" ".join(_words(p)) and " ".join(_words(p)) in norm for p in phrases)


def _clamp(x: float) -> float:
    return round(min(1.0, max(0.0, x)), 2)


def _call_features(prompt: str) -> dict[str, Any]:
    context, answers = _parse_call(prompt)
    counts = [len(_words(a)) for a in answers]
    mean_words = sum(counts) / len(counts) if counts else 0.0
    terms = _terms(context)
    joined = " ".join(answers)
    named = [d for d, phrases in terms.items() if _named(joined, phrases)]
    absent = [
        a for a in context.get("absent_departments") or [] if isinstance(a, str) and _named(joined, [a])
    ]
    generic = sum(1 for a in answers if " ".join(_words(a)) in _GENERIC)
    negatives = [a for a in answers if any(w.startswith(_NEGATIVE) for w in _words(a))]
    times = len(_TIME_RE.findall(joined.lower()))
    norm_answers = [" ".join(_words(a)) for a in answers]
    return {
        "answers": answers,
        "mean_words": mean_words,
        "named": named,
        "absent": absent,
        "generic_ratio": generic / len(answers) if answers else 1.0,
        "negatives": negatives,
        "specific": len(named) + min(times, 2),
        "identical": len(answers) >= 3 and len(set(norm_answers)) == 1,
        "terms": terms,
    }


def _assessment(prompt: str) -> dict[str, Any]:
    f = _call_features(prompt)
    depth = 0.1 + 0.5 * min(1.0, f["mean_words"] / 18) + 0.4 * min(1.0, f["specific"] / 3)
    usefulness = (
        0.1
        + 0.35 * min(1.0, f["specific"] / 3)
        + 0.3 * bool(f["negatives"])
        + 0.25 * min(1.0, f["mean_words"] / 25)
    )
    legitimacy = 0.95 - 0.7 * f["generic_ratio"] - 0.4 * bool(f["absent"]) - 0.3 * f["identical"]
    if not f["answers"]:
        depth = usefulness = legitimacy = 0.0
    items = []
    for answer in f["negatives"][:3]:
        dep = next((d for d, phrases in f["terms"].items() if _named(answer, phrases)), None)
        items.append(
            {
                "topic": "kundsynpunkt",
                "sentiment": "negative",
                "suggestion": f"Följ upp synpunkten om {dep.lower()}."
                if dep
                else "Följ upp kundens synpunkt.",
                "department": dep,
                "priority": "high" if dep else "medium",
            }
        )
    summary = f"Kunden gav {len(f['answers'])} svar"
    if f["named"]:
        summary += " och nämnde " + ", ".join(f["named"])
    summary += "; " + ("med förbättringsförslag." if f["negatives"] else "övervägande positivt.")
    return {
        "legitimacy": _clamp(legitimacy),
        "depth": _clamp(depth),
        "usefulness": _clamp(usefulness),
        "summary": summary,
        "actionable_items": items,
        "reasoning": f"{len(f['answers'])} answers, mean {f['mean_words']:.1f} words, {f['specific']} specifics.",
    }


def _content_fraud(prompt: str) -> dict[str, Any]:
    f = _call_features(prompt)
    indicators = []
    if f["generic_ratio"] >= 0.6:
        indicators.append("generic answers")
    if f["identical"]:
        indicators.append("identical answers")
    if f["absent"]:
        indicators.append("mentions departments the store does not have")
    if f["answers"] and f["mean_words"] < 3:
        indicators.append("evasive, very short answers")
    suspicious = bool(indicators)
    confidence = (
        _clamp(0.55 + 0.15 * len(indicators))
        if suspicious
        else _clamp(0.6 + 0.3 * min(1.0, f["specific"] / 3))
    )
    return {
        "is_suspicious": suspicious,
        "confidence": confidence,
        "indicators": indicators,
        "reasoning": "; ".join(indicators) or "specific, varied answers",
    }


def _themes(prompt: str) -> dict[str, Any]:
    try:
        stats = json.loads(_section(prompt, STATS_MARK) or "{}")
    except json.JSONDecodeError:
        stats = {}
    rows = [r for r in stats.get("mentions", []) if isinstance(r, dict)] if isinstance(stats, dict) else []
    rows.sort(key=lambda r: (-int(r.get("calls", 0)), str(r.get("topic")), str(r.get("department"))))

    def theme(r: dict[str, Any]) -> dict[str, Any]:
        dep = r.get("department")
        where = f" ({dep})" if dep else ""
        return {
            "title": f"{r.get('topic', 'allmänt')}{where}",
            "topic": str(r.get("topic", "allmänt")),
            "department": dep,
            "sentiment": r.get("sentiment"),
            "evidence_calls": int(r.get("calls", 0)),
        }

    pos = [theme(r) for r in rows if r.get("sentiment") == "positive"][:5]
    neg = [theme(r) for r in rows if r.get("sentiment") == "negative"][:5]
    recs = [
        {
            "action": f"Åtgärda {t['topic']}" + (f" på {t['department']}" if t["department"] else ""),
            "department": t["department"],
            "priority": "high" if t["evidence_calls"] >= 5 else "medium",
            "rationale": f"{t['evidence_calls']} samtal tog upp det.",
        }
        for t in neg[:3]
    ]
    return {"positive_trends": pos, "negative_issues": neg, "recommendations": recs}


_OWN_SCHEMAS: dict[str, Callable[[str], dict[str, Any]]] = {
    "CallAssessment": _assessment,
    "ContentFraudCheck": _content_fraud,
    "WeeklyThemes": _themes,
}
