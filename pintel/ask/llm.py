"""Optional LLM front end: a model picks catalog entries through one tool call, and may word the answer.

Off unless ``PINTEL_LLM=anthropic|openai`` (key from ``ANTHROPIC_API_KEY`` / ``OPENAI_API_KEY``, model from
``PINTEL_LLM_MODEL``); the offline parser is the default and never needs it. What a model may do is narrow:

* **pick**, through a forced tool call whose JSON schema enumerates the catalog (metric names, dimension names,
  period keywords, grains), what the question asks for. Every pick is validated like the parser's own: unknown
  metrics, dimensions a metric lacks and filter values the warehouse does not hold are refused. It never writes SQL:
  the SQL is MetricFlow's, from the catalog.
* **word** the answer from the result rows. Every number in its text is checked against the result
  (:func:`pintel.ask.answer.unsupported_numbers`); text with a number the warehouse did not return is discarded
  and the template sentence is used instead, with a note saying so.

Providers are plain HTTPS calls (stdlib ``urllib``), so no SDK is a dependency.
"""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import date, timedelta
from typing import Any, Protocol

from pintel.ask.answer import Answer, unsupported_numbers
from pintel.ask.catalog import Catalog
from pintel.ask.parser import Parsed
from pintel.ask.timerange import Period, _named

TOOL_NAME = "select_metric_query"
RELATIVE = ("yesterday", "last 7 days", "last week", "last month", "this week", "this month", "all time")


class LLMError(RuntimeError):
    """The provider is not configured or did not answer with a usable tool call."""


class Provider(Protocol):
    def select(self, question: str, tool: dict[str, Any]) -> dict[str, Any]:
        """The arguments of the forced tool call for ``question``."""

    def write(self, question: str, facts: dict[str, Any]) -> str:
        """A short answer in words, from ``facts`` (the answer contract) only."""


def tool_schema(catalog: Catalog) -> dict[str, Any]:
    """The one tool a model may call: its enums are the catalog, so it can only name what exists."""
    dims = sorted(catalog.dimensions)
    return {
        "name": TOOL_NAME,
        "description": "Choose the governed metric query that answers the question, or refuse it.",
        "input_schema": {
            "type": "object",
            "properties": {
                "metric": {"type": ["string", "null"], "enum": [m.name for m in catalog.public_metrics] + [None]},
                "group_by": {"type": "array", "items": {"type": "string", "enum": dims}},
                "filters": {"type": "object", "additionalProperties": {"type": "string"}},
                "relative_period": {"type": ["string", "null"], "enum": [*RELATIVE, None]},
                "start": {"type": ["string", "null"], "description": "YYYY-MM-DD"},
                "end": {"type": ["string", "null"], "description": "YYYY-MM-DD"},
                "grain": {"type": ["string", "null"], "enum": ["day", "week", "month", None]},
                "compare_previous": {"type": "boolean"},
                "refuse_reason": {"type": ["string", "null"]},
            },
            "required": ["metric"],
        },
    }


def _period(pick: dict[str, Any], anchor: date, first: date) -> Period | None:
    relative = pick.get("relative_period")
    if relative == "last 7 days":
        return Period(anchor - timedelta(days=6), anchor, "the last 7 days")
    if relative:
        return _named(relative, anchor, first)
    if pick.get("start") and pick.get("end"):
        start, end = date.fromisoformat(pick["start"]), date.fromisoformat(pick["end"])
        return Period(min(start, end), max(start, end), f"{min(start, end)} to {max(start, end)}")
    return None


def from_pick(
    question: str, pick: dict[str, Any], catalog: Catalog, values: dict[str, set[str]], anchor: date, first: date
) -> Parsed:
    """Validate a model's tool-call arguments into a :class:`Parsed`, exactly as strict as the offline parser."""
    parsed = Parsed(question=question)
    if pick.get("refuse_reason") or not pick.get("metric"):
        return parsed.refuse(str(pick.get("refuse_reason") or "That is not a metric in the catalog."))
    metric = catalog.metrics.get(str(pick["metric"]))
    if metric is None or metric.internal:
        return parsed.refuse(f"{pick['metric']!r} is not a metric in the catalog.")
    parsed.metric = metric
    available = catalog.dimensions_for(metric.name)
    for name in pick.get("group_by") or []:
        if name not in available:
            return parsed.refuse(f"{metric.label} cannot be broken down by {name}.")
        parsed.group_by.append(available[name])
    for name, value in (pick.get("filters") or {}).items():
        if name not in available or str(value) not in values.get(name, set()):
            return parsed.refuse(f"{name} = {value!r} is not a filter {metric.label} has in this warehouse.")
        parsed.filters.append((available[name], str(value)))
    try:
        parsed.period = _period(pick, anchor, first)
    except ValueError as exc:
        return parsed.refuse(f"not a date: {exc}")
    if pick.get("grain") in ("day", "week", "month"):
        parsed.grain = pick["grain"]
    if pick.get("compare_previous") and parsed.period is not None:
        parsed.compare = parsed.period.shifted_back()
    named = {d.name for d in parsed.group_by} | {d.name for d, _ in parsed.filters}
    for dim, value in metric.default_filters.items():
        if dim in available and dim not in named:
            parsed.filters.append((available[dim], value))
    for dim in metric.default_group_by:
        if dim in available and dim not in named:
            parsed.group_by.append(available[dim])
    return parsed


def checked_text(text: str, answer: Answer) -> tuple[bool, list[str]]:
    """Whether every number in ``text`` is one the answer holds (values, dates' parts, or asked-for integers)."""
    allowed = [v["value"] for v in answer.values if v["value"] is not None]
    extra: list[float] = []
    for day in [*(answer.time_range or {}).values(), *(str(v["period"]) for v in answer.values if v["period"])]:
        try:
            parsed = date.fromisoformat(str(day))
        except ValueError:
            continue
        extra += [parsed.year, parsed.month, parsed.day]
    extra += [float(v) for v in answer.filters.values() if v.isdigit()]
    bad = unsupported_numbers(text, allowed, tuple(extra))
    return not bad, bad


def narrate(provider: Provider, answer: Answer) -> Answer:
    """The model's wording when all its numbers check out, else the template sentence with a note."""
    if answer.status != "answered":
        return answer
    try:
        text = provider.write(answer.question, answer.to_dict()).strip()
    except LLMError:
        return answer
    ok, bad = checked_text(text, answer)
    if ok and text:
        answer.explanation = text
    else:
        answer.explanation += f" (The model's wording was discarded: it stated {', '.join(bad)}, not in the result.)"
    return answer


def provider_from_env(name: str) -> Provider:
    name = name.strip().lower()
    if name == "anthropic":
        return _Anthropic(_key("ANTHROPIC_API_KEY"), os.environ.get("PINTEL_LLM_MODEL", "claude-sonnet-4-5"))
    if name == "openai":
        return _OpenAI(_key("OPENAI_API_KEY"), os.environ.get("PINTEL_LLM_MODEL", "gpt-4o-mini"))
    raise LLMError(f"PINTEL_LLM must be anthropic or openai, not {name!r}")


def _key(variable: str) -> str:
    key = os.environ.get(variable)
    if not key:
        raise LLMError(f"PINTEL_LLM is set but {variable} is not")
    return key


SYSTEM = (
    "You map product-analytics questions onto a metric catalog by calling the tool exactly once. Pick only from its "
    "enums; never invent metrics, dimensions or values; refuse with a reason when the catalog cannot answer. "
    "Relative dates count from the latest complete day of data, {anchor}."
)
WRITE = (
    "Answer the question in one or two sentences using only these facts (JSON). Do not state any number that is "
    "not in the facts; do not compute new numbers.\n"
)


def _post(url: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise LLMError(f"LLM request to {url} failed: {exc}") from exc


class _Anthropic:
    url = "https://api.anthropic.com/v1/messages"

    def __init__(self, key: str, model: str) -> None:
        self.headers = {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}
        self.model = model

    def select(self, question: str, tool: dict[str, Any]) -> dict[str, Any]:
        reply = _post(
            self.url,
            self.headers,
            {
                "model": self.model,
                "max_tokens": 512,
                "system": tool["description"],
                "tools": [tool],
                "tool_choice": {"type": "tool", "name": TOOL_NAME},
                "messages": [{"role": "user", "content": question}],
            },
        )
        for block in reply.get("content", []):
            if block.get("type") == "tool_use" and block.get("name") == TOOL_NAME:
                return dict(block.get("input") or {})
        raise LLMError("the model did not call the tool")

    def write(self, question: str, facts: dict[str, Any]) -> str:
        reply = _post(
            self.url,
            self.headers,
            {
                "model": self.model,
                "max_tokens": 300,
                "messages": [{"role": "user", "content": WRITE + json.dumps(facts, default=str)}],
            },
        )
        return "".join(b.get("text", "") for b in reply.get("content", []) if b.get("type") == "text")


class _OpenAI:
    url = "https://api.openai.com/v1/chat/completions"

    def __init__(self, key: str, model: str) -> None:
        self.headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        self.model = model

    def select(self, question: str, tool: dict[str, Any]) -> dict[str, Any]:
        function = {"name": tool["name"], "description": tool["description"], "parameters": tool["input_schema"]}
        reply = _post(
            self.url,
            self.headers,
            {
                "model": self.model,
                "messages": [
                    {"role": "system", "content": tool["description"]},
                    {"role": "user", "content": question},
                ],
                "tools": [{"type": "function", "function": function}],
                "tool_choice": {"type": "function", "function": {"name": TOOL_NAME}},
            },
        )
        try:
            call = reply["choices"][0]["message"]["tool_calls"][0]["function"]
            return dict(json.loads(call["arguments"]))
        except (KeyError, IndexError, ValueError) as exc:
            raise LLMError("the model did not call the tool") from exc

    def write(self, question: str, facts: dict[str, Any]) -> str:
        reply = _post(
            self.url,
            self.headers,
            {"model": self.model, "messages": [{"role": "user", "content": WRITE + json.dumps(facts, default=str)}]},
        )
        try:
            return str(reply["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError) as exc:
            raise LLMError("the model returned no text") from exc


def parse_with_llm(
    provider: Provider, question: str, catalog: Catalog, values: dict[str, set[str]], anchor: date, first: date
) -> Parsed:
    tool = tool_schema(catalog)
    tool["description"] += " " + SYSTEM.format(anchor=anchor.isoformat())
    return from_pick(question, provider.select(question, tool), catalog, values, anchor, first)
