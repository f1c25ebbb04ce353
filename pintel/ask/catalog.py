"""The metric catalog `pintel ask` answers from, read from dbt's semantic manifest (one source).

The metrics, their dimensions and the words people use for them are declared once, as MetricFlow semantic models
and metrics in ``dbt_project/models/marts/semantic/*.yml``; dbt writes them to ``semantic_manifest.json`` on every
parse or build. This module reads that file (plain JSON, so `pintel ask` starts fast) into typed entries: for each
metric, how a value over a date range is formed (``over_time``), its unit, synonyms and defaults; for each
dimension, the MetricFlow group-by name it has for a given metric (``entity__dimension``), found the way
MetricFlow joins: the measure's own semantic model first, then one hop through an entity that is primary (or
unique) in another semantic model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

OVER_TIME = ("sum", "mean", "last", "ratio")
DEFAULT_RANGES = ("latest_day", "last_7_days", "all")
_JOINABLE = ("primary", "unique", "natural")


class CatalogError(RuntimeError):
    """The semantic manifest is missing or does not describe a usable metric."""


@dataclass(frozen=True)
class Dimension:
    """A categorical dimension of one semantic model."""

    name: str
    semantic_model: str
    entity: str  # the primary entity of its semantic model: MetricFlow names it ``entity__name``
    expr: str
    description: str
    synonyms: tuple[str, ...]
    table: str  # schema.alias of the model it reads
    # False for dimensions whose values are everyday words (event names: "signed up"): naming one in a question
    # about a metric without the dimension is read as ordinary words, not as a filter to refuse
    strict_mentions: bool = True

    @property
    def qualified(self) -> str:
        return f"{self.entity}__{self.name}"


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    description: str
    type: str
    over_time: str
    unit: str
    synonyms: tuple[str, ...]
    semantic_models: tuple[str, ...]
    numerator: str | None = None
    denominator: str | None = None
    default_filters: dict[str, str] = field(default_factory=dict)
    default_group_by: tuple[str, ...] = ()
    default_range: str = "last_7_days"
    internal: bool = False
    generic_synonyms: tuple[str, ...] = ()  # ambiguous words ("active users") that mean a variant over a period
    period_variants: dict[str, str] = field(default_factory=dict)  # period kind (week, month) -> metric


@dataclass(frozen=True)
class Catalog:
    metrics: dict[str, Metric]
    dimensions: dict[str, tuple[Dimension, ...]]  # by name; several semantic models may share a name
    entities: dict[str, dict[str, str]]  # semantic model -> entity name -> entity type
    primary_entity: dict[str, str]  # semantic model -> its primary entity
    time_dimensions: dict[str, str]  # semantic model -> agg time dimension
    time_spine: tuple[str, str]  # (schema.table, day column) of the daily time spine
    digest: str  # sha256 of the manifest: compiled SQL is cached per digest

    @cached_property
    def public_metrics(self) -> tuple[Metric, ...]:
        return tuple(m for m in self.metrics.values() if not m.internal)

    def dimensions_for(self, metric: str) -> dict[str, Dimension]:
        """Dimension name -> the dimension MetricFlow can group ``metric`` by (nearest semantic model first)."""
        found: dict[str, Dimension] = {}
        per_model = [self._reachable(model) for model in self.metrics[metric].semantic_models]
        names = set.intersection(*(set(dims) for dims in per_model)) if per_model else set()
        for name in sorted(names):
            # a ratio's inputs must be grouped by the same element: take the one every input reaches
            candidates = {dims[name].qualified for dims in per_model}
            if len(candidates) == 1:
                found[name] = per_model[0][name]
        return found

    def _reachable(self, model: str) -> dict[str, Dimension]:
        reachable: dict[str, Dimension] = {}
        for dims in self.dimensions.values():
            for dim in dims:
                if dim.semantic_model == model:
                    reachable.setdefault(dim.name, dim)
        for entity in self.entities.get(model, {}):
            for other, other_entities in self.entities.items():
                if other == model or other_entities.get(entity) not in _JOINABLE:
                    continue
                for dims in self.dimensions.values():
                    for dim in dims:
                        if dim.semantic_model == other:
                            reachable.setdefault(dim.name, dim)
        return reachable


def _meta(node: dict) -> dict:
    return ((node.get("config") or {}).get("meta")) or {}


def _strings(values: object) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(str(v) for v in values)  # type: ignore[union-attr]


def parse_manifest(raw: str) -> Catalog:
    """Read the catalog out of a ``semantic_manifest.json`` text."""
    try:
        manifest = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"semantic manifest is not JSON: {exc}") from exc
    measure_model: dict[str, str] = {}
    dimensions: dict[str, list[Dimension]] = {}
    entities: dict[str, dict[str, str]] = {}
    primary: dict[str, str] = {}
    time_dims: dict[str, str] = {}
    for model in manifest.get("semantic_models", []):
        name = model["name"]
        relation = model["node_relation"]
        table = f"{relation['schema_name']}.{relation['alias']}"
        entities[name] = {e["name"]: e["type"] for e in model.get("entities", [])}
        main = model.get("primary_entity") or next(
            (e["name"] for e in model.get("entities", []) if e["type"] in ("primary", "unique", "natural")), None
        )
        if main is None:
            continue
        primary[name] = main
        time_dims[name] = (model.get("defaults") or {}).get("agg_time_dimension") or ""
        for measure in model.get("measures", []):
            measure_model[measure["name"]] = name
        for dim in model.get("dimensions", []):
            if dim["type"] != "categorical":
                continue
            dimensions.setdefault(dim["name"], []).append(
                Dimension(
                    name=dim["name"],
                    semantic_model=name,
                    entity=main,
                    expr=dim.get("expr") or dim["name"],
                    description=dim.get("description") or "",
                    synonyms=_strings(_meta(dim).get("synonyms")),
                    table=table,
                    strict_mentions=bool(_meta(dim).get("strict_mentions", True)),
                )
            )
    metrics: dict[str, Metric] = {}
    for node in manifest.get("metrics", []):
        params = node.get("type_params") or {}
        models = tuple(
            dict.fromkeys(
                measure_model[m["name"]] for m in params.get("input_measures", []) if m["name"] in measure_model
            )
        )
        meta = _meta(node)
        over_time = meta.get("over_time", "sum")
        if over_time not in OVER_TIME:
            raise CatalogError(f"metric {node['name']}: meta.over_time must be one of {OVER_TIME}, not {over_time!r}")
        default_range = meta.get("default_range", "last_7_days" if over_time in ("sum", "ratio") else "latest_day")
        if default_range not in DEFAULT_RANGES:
            raise CatalogError(f"metric {node['name']}: meta.default_range must be one of {DEFAULT_RANGES}")
        metrics[node["name"]] = Metric(
            name=node["name"],
            label=node.get("label") or node["name"],
            description=" ".join((node.get("description") or "").split()),
            type=node["type"],
            over_time=over_time,
            unit=meta.get("unit", ""),
            synonyms=_strings(meta.get("synonyms")),
            semantic_models=models,
            numerator=(params.get("numerator") or {}).get("name"),
            denominator=(params.get("denominator") or {}).get("name"),
            default_filters={str(k): str(v) for k, v in (meta.get("default_filters") or {}).items()},
            default_group_by=_strings(meta.get("default_group_by")),
            default_range=default_range,
            internal=bool(meta.get("internal", False)),
            generic_synonyms=_strings(meta.get("generic_synonyms")),
            period_variants={str(k): str(v) for k, v in (meta.get("period_variants") or {}).items()},
        )
    for metric in metrics.values():
        unknown = [v for v in metric.period_variants.values() if v not in metrics]
        if unknown:
            raise CatalogError(f"metric {metric.name}: meta.period_variants names unknown metrics {unknown}")
        if metric.over_time == "ratio" and not (metric.numerator in metrics and metric.denominator in metrics):
            raise CatalogError(f"metric {metric.name}: over_time ratio needs a ratio metric with both inputs declared")
    spines = (manifest.get("project_configuration") or {}).get("time_spines") or []
    daily = next((s for s in spines if s["primary_column"]["time_granularity"] == "day"), None)
    if daily is None:
        raise CatalogError("the semantic manifest has no daily time spine (time_spine_daily.yml)")
    spine = (
        f"{daily['node_relation']['schema_name']}.{daily['node_relation']['alias']}",
        daily["primary_column"]["name"],
    )
    if not metrics:
        raise CatalogError("the semantic manifest declares no metrics (dbt_project/models/marts/semantic/*.yml)")
    return Catalog(
        metrics=metrics,
        dimensions={k: tuple(v) for k, v in dimensions.items()},
        entities=entities,
        primary_entity=primary,
        time_dimensions=time_dims,
        time_spine=spine,
        digest=hashlib.sha256(raw.encode()).hexdigest(),
    )


def load(path: str | Path) -> Catalog:
    path = Path(path)
    if not path.exists():
        raise CatalogError(f"semantic manifest {path} not found; run `pintel build` (or `dbt parse`) first")
    return parse_manifest(path.read_text())
