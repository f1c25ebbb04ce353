"""The product catalog: event taxonomy, feature catalog, plans and funnel, read from the dbt seed CSVs.

The seed CSVs in ``seeds/`` are the single source of truth for what events exist, which feature is the key
feature, which event means activation and how the funnel is ordered. The warehouse loads them with
``dbt seed``; the simulator and the ML code read the very same files through this module, so a team that
edits its tracking plan edits one place.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pintel.settings import Settings


def seeds_dir() -> Path:
    """Where the seed CSVs live: :attr:`Settings.seeds` (``$PINTEL_SEEDS_DIR``, default the repository's ``seeds/``)."""
    path = Settings.from_env().seeds
    if not (path / "event_taxonomy.csv").exists():
        raise FileNotFoundError(
            f"seed catalog not found in {path}; set PINTEL_SEEDS_DIR to the folder holding event_taxonomy.csv"
        )
    return path


def _read(name: str) -> list[dict[str, str]]:
    with (seeds_dir() / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def _flag(value: str) -> bool:
    return value.strip().lower() in {"true", "1", "yes"}


@dataclass(frozen=True)
class Feature:
    key: str
    name: str
    category: str
    event_name: str
    is_key_feature: bool
    is_activation: bool


@dataclass(frozen=True)
class Plan:
    plan: str
    tier: int
    monthly_price_usd: float
    is_paid: bool


@dataclass(frozen=True)
class Catalog:
    """Everything the seeds say about the product, in typed form."""

    events: tuple[str, ...]
    event_categories: dict[str, str]
    event_properties: dict[str, dict[str, str]]
    features: tuple[Feature, ...]
    plans: tuple[Plan, ...]
    funnel: tuple[tuple[str, str], ...]
    quarantine_reasons: tuple[str, ...] = ()
    """Why stg_segment__tracks quarantines a message, in the order its rules are checked (first match wins)."""

    @property
    def key_feature(self) -> Feature:
        return next(f for f in self.features if f.is_key_feature)

    @property
    def activation_feature(self) -> Feature:
        return next(f for f in self.features if f.is_activation)

    def plan(self, name: str) -> Plan:
        return next(p for p in self.plans if p.plan == name)


@cache
def load_catalog() -> Catalog:
    """Read and validate the seed catalog once per process."""
    taxonomy = _read("event_taxonomy.csv")
    features = tuple(
        Feature(
            key=row["feature_key"],
            name=row["feature_name"],
            category=row["category"],
            event_name=row["event_name"],
            is_key_feature=_flag(row["is_key_feature"]),
            is_activation=_flag(row["is_activation"]),
        )
        for row in _read("feature_catalog.csv")
    )
    properties: dict[str, dict[str, str]] = {}
    for row in _read("event_properties.csv"):
        properties.setdefault(row["event_name"], {})[row["property_name"]] = row["property_type"]
    plans = tuple(
        Plan(row["plan"], int(row["plan_tier"]), float(row["monthly_price_usd"]), _flag(row["is_paid"]))
        for row in sorted(_read("plans.csv"), key=lambda r: int(r["plan_tier"]))
    )
    funnel = tuple(
        (row["step_name"], row["event_name"])
        for row in sorted(_read("funnel_steps.csv"), key=lambda r: int(r["step_order"]))
    )
    reasons = tuple(
        row["reason"] for row in sorted(_read("quarantine_reasons.csv"), key=lambda r: int(r["precedence"]))
    )
    catalog = Catalog(
        events=tuple(row["event_name"] for row in taxonomy),
        event_categories={row["event_name"]: row["category"] for row in taxonomy},
        event_properties=properties,
        features=features,
        plans=plans,
        funnel=funnel,
        quarantine_reasons=reasons,
    )
    _validate(catalog)
    return catalog


def _validate(catalog: Catalog) -> None:
    known = set(catalog.events)
    missing = [f.event_name for f in catalog.features if f.event_name not in known]
    missing += [e for e in catalog.event_properties if e not in known]
    missing += [e for _, e in catalog.funnel if e not in known]
    if missing:
        raise ValueError(f"seed catalog refers to events missing from event_taxonomy.csv: {sorted(set(missing))}")
    if sum(f.is_key_feature for f in catalog.features) != 1:
        raise ValueError("feature_catalog.csv must mark exactly one feature as is_key_feature")
    if sum(f.is_activation for f in catalog.features) != 1:
        raise ValueError("feature_catalog.csv must mark exactly one feature as is_activation")
