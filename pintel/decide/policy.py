"""The decision policy: one versioned YAML file (``policies/default.yml``) validated by a pydantic schema.

Why a file and a schema: every number that turns evidence into an action -- the price of a wrong rollback, the
confidence a guard needs, how many retention plays the team can run a day -- is a product decision that must be
reviewed like code and recorded with each decision. ``load_policy`` validates the whole file before anything is
decided or delivered; an invalid policy fails with an error naming the field (``policy.yml: policy field
actions.rollback_flag.prior.successes: Input should be greater than or equal to 0``). The stored ``hash`` is the
sha256 of the validated content in canonical JSON, so reformatting or commenting the YAML keeps it.

Values live in the YAML only: the schema has no defaults except for the delivery fields, which delivery
(``pintel.act``) also accepts from a bare mapping (its tests route messages without an engine policy).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from pintel.settings import REPO_ROOT

SEVERITIES = ("info", "warning", "critical")
ACTION_CATALOG = REPO_ROOT / "seeds" / "action_catalog.csv"
Channels = str | list[str] | None


class PolicyError(ValueError):
    """The policy cannot be used; the message names the file and the field."""


def default_policy_path() -> Path:
    """``$PINTEL_POLICY``, else ``policies/default.yml`` of the repository."""
    return Path(os.environ.get("PINTEL_POLICY", REPO_ROOT / "policies" / "default.yml")).resolve()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeliveryRules(BaseModel):
    """The fields delivery reads: routing by severity, the human-override window, the daily cap, the switch.

    Delivery validates a bare mapping with this class (extra fields ignored); the engine's :class:`Policy`
    extends it, so one set of validators serves both.
    """

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
    def of(cls, policy: Any) -> DeliveryRules:
        """The delivery fields of an engine policy, a mapping, or a policy file path (validated by name)."""
        if isinstance(policy, cls):
            return policy
        if isinstance(policy, str | Path):
            return load_delivery_rules(policy)
        try:
            if isinstance(policy, Mapping):
                return cls.model_validate(policy)
            return cls.model_validate(policy, from_attributes=True)
        except ValidationError as exc:
            raise PolicyError(_explain(exc)) from exc


class Prior(_Strict):
    """Beta prior on an action type's success rate, as pseudo-outcomes (successes + failures > 0)."""

    successes: float = Field(ge=0)
    failures: float = Field(ge=0)

    @model_validator(mode="after")
    def _proper(self) -> Prior:
        if self.successes + self.failures <= 0:
            raise ValueError("a Beta prior needs successes + failures > 0")
        return self


class ActionRules(_Strict):
    """Per action type: who may run it, what it is worth, what being wrong costs, how long before it is judged.

    Values are per *unit* of the candidate (an exposed user, a user on a retention list, an experiment unit, a
    new user of a cohort), so a decision's benefit and costs scale with how many people it touches.
    """

    automatic: bool
    benefit_per_unit: float = Field(ge=0)
    cost_false_positive_per_unit: float = Field(ge=0)
    cost_false_negative_per_unit: float = Field(ge=0)
    prior: Prior
    horizon_hours: float = Field(ge=0)
    cooldown_hours: float = Field(ge=0)
    once_per_target: bool = False
    """A one-off action (a rollback, a ship): once decided on a target, the same problem there later is escalated,
    not acted on again -- the flag is already off, so repeating the action cannot help and a person must look."""


class Thresholds(_Strict):
    """Expected value -> decision: act at or above ``act_min_expected_value``; below it, escalate when waiting
    risks at least ``escalate_min_expected_loss`` (confidence x units x cost of a false negative)."""

    act_min_expected_value: float
    escalate_min_expected_loss: float = Field(ge=0)


class Stability(_Strict):
    """Anti-flapping: the same decision is not repeated within ``repeat_after_hours``; a target that got an
    act/rollback/escalate is not stepped down to ``monitor`` within ``hysteresis_hours`` unless its expected
    value fell below the act threshold by ``hysteresis_margin`` (a share of the threshold's scale)."""

    repeat_after_hours: float = Field(ge=0)
    hysteresis_hours: float = Field(ge=0)
    hysteresis_margin: float = Field(ge=0, le=1)


class Guardrail(_Strict):
    """An event whose rate per 1,000 other events must not move the harmful way for exposed users."""

    event: str = Field(min_length=1)
    harmful: Literal["increase", "decrease"]


class Rollouts(_Strict):
    """Rollback evidence: the difference-in-differences on exposure (``pintel.decide.rollouts``).

    ``guard_hours`` after a flag first goes live every guardrail is tested each hour; the per-look level is
    ``false_rollback_budget`` / (guard hours x guardrails) (Bonferroni over the looks: at most that many false
    rollbacks per guarded rollout). An incident linked to a flag (segment matches, start within
    ``link_window_hours`` of the flag going live) is tested at ``incident_alpha`` on its own metric.
    """

    guard: bool
    guard_hours: int = Field(ge=1)
    false_rollback_budget: float = Field(gt=0, lt=1)
    incident_alpha: float = Field(gt=0, lt=1)
    link_window_hours: float = Field(ge=0)
    post_hours: int = Field(ge=1)
    min_exposed_users: int = Field(ge=1)
    min_relative_effect: float = Field(ge=0)


class Incidents(_Strict):
    """Incident alerts: which severities a person must look at (escalate); the rest are posted (monitor)."""

    escalate_severities: list[Literal["critical", "major", "minor"]]
    lookback_hours: float = Field(ge=0)


class Experiments(_Strict):
    """Health gates and the guardrail test of experiments (goals use the readout's own 95 % intervals)."""

    min_units_per_arm: int = Field(ge=1)
    min_days: int = Field(ge=1)
    max_days: int = Field(ge=1)
    guardrail_alpha: float = Field(gt=0, lt=1)
    guardrail_min_relative_effect: float = Field(ge=0)

    @model_validator(mode="after")
    def _days(self) -> Experiments:
        if self.max_days < self.min_days:
            raise ValueError(f"max_days ({self.max_days}) is below min_days ({self.min_days})")
        return self


class Churn(_Strict):
    """Retention plays: the scores table, how many users the team can contact a day, and the holdout."""

    scores_table: str = Field(pattern=r"^[A-Za-z_][\w]*\.[A-Za-z_][\w]*$")
    capacity_per_day: int = Field(ge=0)
    list_days: int = Field(ge=1)
    min_probability: float = Field(ge=0, le=1)
    holdout_share: float = Field(gt=0, lt=1)
    holdout_salt: str = Field(min_length=1)
    recontact_after_days: int = Field(ge=0)
    min_holdout_users: int = Field(ge=1)


class Causal(_Strict):
    """Promote a feature in onboarding only on a reliable estimate whose interval is above zero."""

    horizon_days: int = Field(ge=1)
    require_refutations: bool
    max_share_trimmed: float = Field(ge=0, le=1)


class DataQuality(_Strict):
    """``unknown`` (no validation recorded) blocks act/rollback when ``unknown_blocks_actions``."""

    unknown_blocks_actions: bool


class Snooze(_Strict):
    """A target pintel must not act on or escalate until ``until`` (its decisions are recorded as monitor)."""

    target: str = Field(min_length=1)
    until: datetime
    reason: str = Field(min_length=1)

    @field_validator("until")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        """Naive UTC, like every timestamp of the warehouse (an offset-less value is read as UTC)."""
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


class Policy(DeliveryRules):
    """The whole decision policy. Unknown fields are errors; the engine's fields have no defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    value_unit: str = Field(min_length=1)
    actions: dict[str, ActionRules]
    thresholds: Thresholds
    stability: Stability
    guardrails: list[Guardrail] = Field(min_length=1)
    rollouts: Rollouts
    incidents: Incidents
    experiments: Experiments
    churn: Churn
    causal: Causal
    data_quality: DataQuality
    snoozes: list[Snooze]

    _hash: str = PrivateAttr(default="")
    _path: str = PrivateAttr(default="")

    @property
    def hash(self) -> str:
        """sha256 of the validated policy in canonical JSON (stable under YAML formatting and comments)."""
        if not self._hash:
            canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
            self._hash = hashlib.sha256(canonical.encode()).hexdigest()
        return self._hash

    @property
    def path(self) -> str:
        return self._path

    def action(self, key: str) -> ActionRules:
        try:
            return self.actions[key]
        except KeyError:
            raise PolicyError(
                f"policy field actions.{key}: missing (every action the engine proposes needs rules)"
            ) from None

    def snoozed(self, target: str, at: datetime) -> Snooze | None:
        """The policy snooze covering ``target`` at data time ``at`` (naive UTC), if any."""
        return next((s for s in self.snoozes if s.target == target and at < s.until), None)


def _explain(exc: ValidationError, source: str = "") -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "policy"
    prefix = f"{source}: " if source else ""
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{prefix}policy field {where}: {first['msg']}{more}"


def catalog_actions(path: Path = ACTION_CATALOG) -> list[str]:
    """The ``action_key`` column of the action catalog seed (the actions the platform knows)."""
    with path.open(newline="") as handle:
        return [row["action_key"] for row in csv.DictReader(handle)]


def validate_policy(data: Any, source: str = "policy", catalog: list[str] | None = None) -> Policy:
    """Validate an already-parsed policy mapping; its action types must be exactly the catalog's."""
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: expected a mapping of policy fields, got {type(data).__name__}")
    try:
        policy = Policy.model_validate(dict(data))
    except ValidationError as exc:
        raise PolicyError(_explain(exc, source)) from exc
    known = catalog if catalog is not None else catalog_actions()
    unknown = sorted(set(policy.actions) - set(known))
    if unknown:
        raise PolicyError(
            f"{source}: policy field actions.{unknown[0]}: not an action_key of seeds/action_catalog.csv "
            f"(known: {', '.join(known)})"
        )
    missing = sorted(set(known) - set(policy.actions))
    if missing:
        raise PolicyError(f"{source}: policy field actions.{missing[0]}: missing (the action catalog lists it)")
    return policy


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise PolicyError(f"policy file {path} does not exist (set PINTEL_POLICY or pass --policy)")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise PolicyError(f"{path.name}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc


def load_policy(path: str | Path | None = None, catalog: list[str] | None = None) -> Policy:
    """Read and validate the policy YAML at ``path`` (default :func:`default_policy_path`)."""
    path = Path(path) if path else default_policy_path()
    policy = validate_policy(_read_yaml(path), path.name, catalog)
    policy._path = str(path)
    return policy


def load_delivery_rules(path: str | Path | None = None) -> DeliveryRules:
    """Only the delivery fields of the policy at ``path``: what ``pintel.act`` needs to route and cap.

    The engine validates the whole file before it decides; delivery re-reads the fields it acts on, so a
    deployment that runs delivery alone (or a test's minimal policy) still fails by field name, not by crash.
    """
    path = Path(path) if path else default_policy_path()
    data = _read_yaml(path)
    if not isinstance(data, Mapping):
        raise PolicyError(f"{path.name}: expected a mapping of policy fields, got {type(data).__name__}")
    try:
        return DeliveryRules.model_validate(dict(data))
    except ValidationError as exc:
        raise PolicyError(_explain(exc, path.name)) from exc
