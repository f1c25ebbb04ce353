"""The part of the decision policy delivery reads: routing, the human-override window, the daily cap, the switch.

The policy file and its full schema belong to the decision engine (``pintel.decide.Policy``); delivery validates
only the fields it acts on, from whatever the engine hands it (its pydantic object, a mapping or the YAML path),
so a policy the engine accepts but delivery cannot route fails here by name, before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pintel.settings import REPO_ROOT

SEVERITIES = ("info", "warning", "critical")
Channels = str | list[str] | None


def default_policy_path() -> Path:
    """``$PINTEL_POLICY``, else ``policies/default.yml`` of the repository."""
    return Path(os.environ.get("PINTEL_POLICY", REPO_ROOT / "policies" / "default.yml")).resolve()


class PolicyError(ValueError):
    """The policy cannot drive delivery; the message names the field."""


class DeliveryPolicy(BaseModel):
    """Routing by severity (a channel, a list, or null for "post nothing"), the 24 h human override, the cap."""

    model_config = ConfigDict(extra="ignore", from_attributes=True, frozen=True)

    version: str = "unversioned"
    routing: dict[str, Channels]
    human_override_hours: float = Field(24.0, ge=0)
    max_automatic_actions_per_day: int = Field(3, ge=0)
    kill_switch_env: str = "PINTEL_KILL_SWITCH"

    @field_validator("routing", mode="before")
    @classmethod
    def _routing(cls, value: Any) -> Any:
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        if not isinstance(value, Mapping):
            raise ValueError("routing must map each severity (info, warning, critical) to a Slack channel")
        missing = [s for s in SEVERITIES if s not in value]
        if missing:
            raise ValueError(f"routing has no channel for severity {', '.join(missing)} (use null to post nothing)")
        for severity, channels in value.items():
            for channel in [channels] if isinstance(channels, str) else channels or []:
                if not isinstance(channel, str) or not channel.strip():
                    raise ValueError(f"routing.{severity}: {channel!r} is not a Slack channel name or id")
        return dict(value)

    def channels(self, severity: str) -> list[str]:
        """The channels a decision of ``severity`` goes to (unknown severities go where ``critical`` goes)."""
        value = self.routing.get(severity, self.routing["critical"])
        return [value] if isinstance(value, str) else list(value or [])

    @classmethod
    def of(cls, policy: Any) -> DeliveryPolicy:
        """Validate delivery's fields of the engine's policy object, a mapping, or a policy file path."""
        if isinstance(policy, cls):
            return policy
        if isinstance(policy, str | Path):
            return load_delivery_policy(policy)
        try:
            if isinstance(policy, Mapping):
                return cls.model_validate(policy)
            return cls.model_validate(policy, from_attributes=True)
        except ValidationError as exc:
            raise PolicyError(_explain(exc)) from exc


def _explain(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "policy"
    return f"policy field {where}: {first['msg']}"


def load_delivery_policy(path: str | Path | None = None) -> DeliveryPolicy:
    """The policy at ``path`` (default :func:`default_policy_path`), validated by the engine when it is installed."""
    path = Path(path) if path else default_policy_path()
    if not path.exists():
        raise PolicyError(f"policy file {path} does not exist (set PINTEL_POLICY)")
    try:
        from pintel.decide import load_policy  # the engine owns the full schema
    except ImportError:
        data = yaml.safe_load(path.read_text()) or {}
        return DeliveryPolicy.of(data)
    return DeliveryPolicy.of(load_policy(path))
