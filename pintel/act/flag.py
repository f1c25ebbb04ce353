"""One feature flag — its definition, its validation and its evaluation for an OpenFeature context.

The definition is flagd's (state, variants, defaultVariant, targeting), so the same object is stored in the
warehouse, exported for flagd and evaluated by ``pintel serve``; evaluation results use OpenFeature's reasons and
error codes, which is what the OFREP endpoints return.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pintel.act.jsonlogic import TargetingError, TargetingKeyMissing, evaluate, validate

STATES = ("ENABLED", "DISABLED")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}$")
BOOLEAN_VARIANTS = {"on": True, "off": False}


class FlagError(ValueError):
    """An invalid flag definition; the message names the flag and the field."""


class EvaluationError(Exception):
    """An OFREP evaluation failure: OpenFeature ``code`` (FLAG_NOT_FOUND, ...), ``details`` and HTTP ``status``."""

    def __init__(self, key: str | None, code: str, details: str, status: int = 400) -> None:
        super().__init__(details)
        self.key, self.code, self.details, self.status = key, code, details, status

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"errorCode": self.code, "errorDetails": self.details}
        return {"key": self.key, **body} if self.key is not None else body


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _uses(rule: Any, op: str) -> bool:
    if isinstance(rule, list):
        return any(_uses(item, op) for item in rule)
    if isinstance(rule, dict):
        return op in rule or any(_uses(v, op) for v in rule.values())
    return False


@dataclass(frozen=True)
class Flag:
    """A flag as flagd defines it, plus pintel's bookkeeping (description, revision, last change)."""

    key: str
    variants: dict[str, Any] = field(default_factory=lambda: dict(BOOLEAN_VARIANTS))
    default_variant: str | None = "off"
    targeting: Any = None
    state: str = "ENABLED"
    description: str | None = None
    revision: int = 0
    updated_at: str | None = None
    updated_by: str | None = None

    def validated(self) -> Flag:
        """This flag, or :class:`FlagError` naming the first problem."""
        if not isinstance(self.key, str) or not _KEY.match(self.key):
            raise FlagError(f"flag key {self.key!r} must be 1-200 letters, digits, '_', '-', '.' or ':'")
        if self.state not in STATES:
            raise FlagError(f"flag {self.key}: state must be ENABLED or DISABLED, not {self.state!r}")
        if not isinstance(self.variants, dict) or not self.variants:
            raise FlagError(f"flag {self.key}: variants must be a non-empty object of name -> value")
        types = {_json_type(v) for v in self.variants.values()}
        if len(types) != 1 or not types <= {"boolean", "number", "string", "object"}:
            raise FlagError(f"flag {self.key}: all variant values must share one JSON type, got {sorted(types)}")
        if self.default_variant is not None and self.default_variant not in self.variants:
            raise FlagError(
                f"flag {self.key}: default variant {self.default_variant!r} is not one of {sorted(self.variants)}"
            )
        try:
            validate(self.targeting, self.variants)
        except TargetingError as exc:
            raise FlagError(f"flag {self.key}: targeting: {exc}") from exc
        return self

    @property
    def value_type(self) -> str:
        return _json_type(next(iter(self.variants.values())))

    def definition(self) -> dict[str, Any]:
        """The parts a change can alter (what the audit's before/after hold)."""
        return {
            "state": self.state,
            "variants": self.variants,
            "default_variant": self.default_variant,
            "targeting": self.targeting,
            "description": self.description,
        }

    def with_definition(self, definition: dict[str, Any]) -> Flag:
        allowed = {k: v for k, v in definition.items() if k in self.definition()}
        return replace(self, **allowed)

    def to_flagd(self) -> dict[str, Any]:
        """flagd's flag-definition object (https://flagd.dev/schema/v0/flags.json)."""
        out: dict[str, Any] = {"state": self.state, "variants": self.variants, "defaultVariant": self.default_variant}
        if self.targeting is not None:
            out["targeting"] = self.targeting
        metadata = {"revision": self.revision, "updatedBy": self.updated_by, "updatedAt": self.updated_at}
        if self.description:
            metadata["description"] = self.description
        out["metadata"] = {k: v for k, v in metadata.items() if v is not None}
        return out

    @classmethod
    def from_flagd(cls, key: str, obj: dict[str, Any]) -> Flag:
        meta = obj.get("metadata") or {}
        return cls(
            key=key,
            state=obj.get("state", "ENABLED"),
            variants=obj.get("variants") or {},
            default_variant=obj.get("defaultVariant"),
            targeting=obj.get("targeting"),
            description=meta.get("description"),
            revision=int(meta.get("revision", 0)),
            updated_at=meta.get("updatedAt"),
            updated_by=meta.get("updatedBy"),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for people: what most users get and how the rest are targeted."""
        if self.state == "DISABLED":
            return "disabled (evaluates as not found; applications use their code default)"
        text = f"default {self.default_variant}"
        if self.targeting is not None:
            text += " · targeting " + json.dumps(self.targeting, separators=(",", ":"))
        return text

    @property
    def splits(self) -> bool:
        return _uses(self.targeting, "fractional")


@dataclass(frozen=True)
class Evaluation:
    """One resolved flag, shaped as OFREP's evaluation success."""

    key: str
    reason: str
    variant: str | None
    value: Any = None
    has_value: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"key": self.key, "reason": self.reason, "variant": self.variant}
        if self.has_value:
            body["value"] = self.value
        body["metadata"] = self.metadata
        return body


def check_context(context: Any, key: str | None) -> dict[str, Any]:
    """The evaluation context, or INVALID_CONTEXT when it is not an object with a string targetingKey."""
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise EvaluationError(key, "INVALID_CONTEXT", "context must be a JSON object of attributes")
    targeting_key = context.get("targetingKey")
    if targeting_key is not None and not isinstance(targeting_key, str):
        raise EvaluationError(key, "INVALID_CONTEXT", "context.targetingKey must be a string")
    return context


def evaluate_flag(flag: Flag | None, key: str, context: dict[str, Any], flag_set_version: str = "") -> Evaluation:
    """Resolve ``flag`` for ``context`` the way flagd does; errors are :class:`EvaluationError`."""
    if flag is None:
        raise EvaluationError(key, "FLAG_NOT_FOUND", f"flag '{key}' is not in pintel's flag store", 404)
    if flag.state == "DISABLED":
        raise EvaluationError(key, "FLAG_NOT_FOUND", f"flag '{key}' is disabled", 404)
    metadata: dict[str, Any] = {"revision": flag.revision}
    if flag_set_version:
        metadata["flagSetVersion"] = flag_set_version
    variant, reason = flag.default_variant, "STATIC"
    if flag.targeting is not None:
        data = {**context, "$flagd": {"flagKey": key, "timestamp": int(time.time())}}
        try:
            result = evaluate(flag.targeting, data)
        except TargetingKeyMissing as exc:
            raise EvaluationError(key, "TARGETING_KEY_MISSING", str(exc)) from exc
        except (TargetingError, TypeError, ValueError) as exc:
            raise EvaluationError(key, "GENERAL", f"targeting rule of '{key}' failed: {exc}", 500) from exc
        if isinstance(result, bool):
            result = "true" if result else "false"
        if isinstance(result, str) and result in flag.variants:
            variant, reason = result, ("SPLIT" if flag.splits else "TARGETING_MATCH")
        else:
            reason = "DEFAULT"
    if variant is None:  # defaultVariant null: the application's code default applies (OFREP codeDefaultFlag)
        return Evaluation(key, reason if reason != "STATIC" else "DEFAULT", None, has_value=False, metadata=metadata)
    return Evaluation(key, reason, variant, flag.variants[variant], metadata=metadata)
