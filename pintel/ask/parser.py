"""The offline parser: a question in plain words onto the catalog (metric, group-by, filters, period, grain).

No model and no network. Everything it recognises comes from the catalog and the warehouse: metric names, labels
and synonyms and dimension synonyms from the semantic manifest's ``meta``, filter values from the dimension values
actually in the warehouse (plus country names and the seed catalog's feature names), dates from
:mod:`pintel.ask.timerange`. Matching tolerates typos and a few words in between (:mod:`pintel.ask.lexicon`).
Anything it cannot place on the catalog is refused with the nearest metrics it does know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from rapidfuzz import fuzz

from pintel.ask.catalog import Catalog, Dimension, Metric
from pintel.ask.lexicon import COUNTRY_NAMES, Match, Token, find, normalize, phrase_tokens, tokenize
from pintel.ask.timerange import CHANGE_CUE, Period, parse_time

WHY = re.compile(
    r"^\s*(?:why|how come|what (?:caused|happened|drove|explains|is behind|was behind)|explain|"
    r"what(?:'s| is| was) (?:the )?(?:reason|cause))\b|\bwhy\b|\bwhat caused\b|\broot cause\b"
)
DROP_WORDS = (
    r"\b(?:drop(?:ped|s)?|fall|fell|dip(?:ped)?|down|decline[ds]?|lower|plunge[ds]?|crash(?:ed)?|outage|tank(?:ed)?)\b"
)
SPIKE_WORDS = r"\b(?:spike[ds]?|jump(?:ed)?|surge[ds]?|rise|rose|up|increase[ds]?|higher|peak(?:ed)?|burst|boom)\b"
GROUP_CUES = frozenset(
    [
        "by",
        "per",
        "each",
        "every",
        "across",
        "which",
        "what",
        "top",
        "breakdown",
        "broken",
        "split",
        "between",
        "among",
        "compare",
    ]
)
GRAINS = {
    grain: (("per", grain), ("by", grain), ("each", grain), ("every", grain), (adverb,), (grain, "by", grain))
    for grain, adverb in (("day", "daily"), ("week", "weekly"), ("month", "monthly"))
}
TREND_WORDS = (("over", "time"), ("trend",), ("trending",), ("time", "series"), ("timeseries",), ("chart",), ("graph",))
NOISE_VALUES = frozenset(
    [
        "chart",
        "charts",
        "report",
        "reports",
        "graph",
        "graphs",
        "comment",
        "comments",
        "filter",
        "filters",
        "export",
        "exports",
        "template",
        "templates",
        "alert",
        "alerts",
        "segment",
        "segments",
        "sharing",
        "invite",
        "invites",
        "api",
        "all",
        "unknown",
    ]
)
ORDINAL_WEEKS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8}
WEEK_N = re.compile(
    r"\b(?:week|wk)[\s_-]*(?:n[\s_-]*=?[\s_-]*)?(\d{1,2})\b|\bw(\d{1,2})\b|\b(\d{1,2})(?:st|nd|rd|th)?[\s-]+week\b"
)
WEEK_ORDINAL = re.compile(r"\b(" + "|".join(ORDINAL_WEEKS) + r")\s+week\b")
TOP_N = re.compile(r"\b(?:top|best|biggest|largest|highest)\s+(\d{1,2})\b")


@dataclass
class Parsed:
    question: str
    intent: str = "metric"  # metric | why | refused
    metric: Metric | None = None
    group_by: list[Dimension] = field(default_factory=list)
    filters: list[tuple[Dimension, str]] = field(default_factory=list)
    restrict: dict[str, set[str]] = field(default_factory=dict)  # grouped dimension -> the values asked about
    period: Period | None = None
    compare: Period | None = None
    grain: str | None = None
    limit: int | None = None
    lowest: bool = False
    notes: list[str] = field(default_factory=list)
    refusal: str | None = None
    nearest: list[str] = field(default_factory=list)
    mentions: list[tuple[str, str]] = field(default_factory=list)  # (dimension, value) named, for why questions
    direction: str | None = None

    def refuse(self, why: str, nearest: list[str] | None = None) -> Parsed:
        self.intent, self.refusal = "refused", why
        if nearest is not None:
            self.nearest = nearest
        return self


def metric_phrases(metric: Metric) -> list[str]:
    label = re.sub(r"\(.*?\)", " ", metric.label)
    inner = re.findall(r"\((.*?)\)", metric.label)
    return [metric.name.replace("_", " "), label, *inner, *metric.synonyms]


def nearest_metrics(question: str, catalog: Catalog, n: int = 3) -> list[str]:
    """The catalog metrics most like the question's words (for refusals)."""
    text = " ".join(t.text for t in tokenize(normalize(question)) if t.raw not in ("how", "many", "what", "the"))
    scored = []
    for metric in catalog.public_metrics:
        best = max(fuzz.token_set_ratio(text, " ".join(phrase_tokens(p))) for p in metric_phrases(metric))
        scored.append((best, metric.name))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [name for _, name in scored[:n]]


def _best_metric(
    tokens: list[Token], catalog: Catalog, names_week: bool, taken: set[int] | frozenset[int] = frozenset()
) -> tuple[Metric, Match] | None:
    """The metric whose phrase matches best; a question naming "week N" leans to metrics measured by week N."""
    best: tuple[Metric, Match] | None = None
    best_key: tuple = ()
    for metric in catalog.public_metrics:
        by_week = names_week and "week_number" in catalog.dimensions_for(metric.name)
        for phrase in metric_phrases(metric):
            match = find(phrase, tokens, taken)
            if match is None or match.score < 3:
                continue
            key = (match.score + (3 if by_week else 0), match.exact, -len(metric.name))
            if best is None or key > best_key:
                best, best_key = (metric, match), key
    return best


def _grain(tokens: list[Token], taken: set[int]) -> tuple[str | None, set[int], bool]:
    free = [t for t in tokens if t.index not in taken]
    words = [t.raw for t in free]
    for grain, patterns in GRAINS.items():
        for pattern in patterns:
            for i in range(len(words) - len(pattern) + 1):
                if tuple(words[i : i + len(pattern)]) == pattern:
                    return grain, {free[j].index for j in range(i, i + len(pattern))}, False
    for pattern in TREND_WORDS:
        for i in range(len(words) - len(pattern) + 1):
            if tuple(words[i : i + len(pattern)]) == pattern:
                return None, {free[j].index for j in range(i, i + len(pattern))}, True
    return None, set(), False


def _dimension_phrases(catalog: Catalog) -> dict[str, list[str]]:
    phrases: dict[str, list[str]] = {}
    for name, dims in catalog.dimensions.items():
        words = [name.replace("_", " ")]
        for dim in dims:
            words += [s for s in dim.synonyms if s not in words]
        phrases[name] = words
    return phrases


def _value_aliases(dimension: str, value: str, feature_names: dict[str, str]) -> list[str]:
    aliases = [value.replace("_", " ")]
    if dimension == "country" and value in COUNTRY_NAMES:
        aliases = list(COUNTRY_NAMES[value])  # two-letter codes are matched case-sensitively elsewhere
    if dimension == "feature" and value in feature_names:
        aliases.append(feature_names[value])
    if dimension == "plan":
        aliases.append(f"{value} plan")
    return aliases


def parse(
    question: str,
    catalog: Catalog,
    values: dict[str, set[str]],
    anchor: date,
    first: date,
    feature_names: dict[str, str] | None = None,
) -> Parsed:
    """Map ``question`` onto the catalog. ``values``: dimension -> the values it takes in the warehouse."""
    parsed = Parsed(question=question)
    text = normalize(question)
    if WHY.search(text):
        parsed.intent = "why"
    times = parse_time(text, anchor, first)
    parsed.period, parsed.compare = times.period, times.compare
    blanked = list(text)
    for start, end in times.spans:
        blanked[start:end] = " " * (end - start)
    rest = "".join(blanked)
    week_number = _week_number(rest)
    tokens = tokenize(rest)
    taken: set[int] = set()

    found = _best_metric(tokens, catalog, week_number is not None)
    if found is not None:
        parsed.metric, match = found
        taken |= set(match.positions)
        _period_variant(parsed, match, catalog)
        other = _best_metric(tokens, catalog, False, taken)
        words = " ".join(t.text for t in tokens if other and t.index in other[1].positions)
        own_values = {
            " ".join(phrase_tokens(v))
            for dim in catalog.dimensions_for(parsed.metric.name)
            for v in values.get(dim, ())
        }
        if (
            other is not None
            and other[0].name != parsed.metric.name
            and other[1].exact
            and other[1].score >= 5
            and words not in own_values  # "signup to upgrade": a funnel step here, not the upgrades metric
        ):
            taken |= set(other[1].positions)  # a second metric's words are not filters
            parsed.notes.append(
                f"one metric per question: this answers {parsed.metric.name}; ask again for {other[0].name}"
            )

    leftover = " ".join(t.raw for t in tokens if t.index not in taken)
    if parsed.compare is None and parsed.period is not None and CHANGE_CUE.search(leftover):
        parsed.compare = parsed.period.shifted_back()  # "how did signups change last week": against the week before
    grain, grain_taken, trend = _grain(tokens, taken)
    taken |= grain_taken
    parsed.grain = grain
    if trend and parsed.grain is None:
        parsed.grain = "day"

    available = catalog.dimensions_for(parsed.metric.name) if parsed.metric else {}
    group_names = _group_by(tokens, taken, catalog)
    mentions = _values(question, tokens, taken, values, feature_names or {}, set(available))
    parsed.mentions = [(d, v) for d, v, _ in mentions]
    if re.search(DROP_WORDS, text):
        parsed.direction = "drop"
    elif re.search(SPIKE_WORDS, text):
        parsed.direction = "spike"
    if parsed.intent == "why":
        return parsed
    if parsed.metric is None:
        return parsed.refuse("That is not a metric in the catalog.", nearest_metrics(question, catalog))
    metric = parsed.metric
    for name in group_names:
        if name not in available:
            return parsed.refuse(_not_by(metric, name, available), _siblings(metric, name, catalog))
        if available[name] not in parsed.group_by:
            parsed.group_by.append(available[name])
    by_dim: dict[str, list[str]] = {}
    for dim, value, strong in mentions:
        if dim not in available:
            if strong and all(d.strict_mentions for d in catalog.dimensions.get(dim, ())):
                return parsed.refuse(_not_by(metric, dim, available), _siblings(metric, dim, catalog))
            continue
        by_dim.setdefault(dim, [])
        if value not in by_dim[dim]:
            by_dim[dim].append(value)
    if week_number is not None and "week_number" in available:
        by_dim["week_number"] = [str(week_number)]
    for dim, picked in by_dim.items():
        if len(picked) > 1 or available[dim] in parsed.group_by:
            if available[dim] not in parsed.group_by:
                parsed.group_by.append(available[dim])
            parsed.restrict[dim] = set(picked)
        else:
            parsed.filters.append((available[dim], picked[0]))
    named = {d.name for d in parsed.group_by} | {d.name for d, _ in parsed.filters}
    for dim, value in metric.default_filters.items():
        if dim in available and dim not in named:
            parsed.filters.append((available[dim], value))
            parsed.notes.append(f"{dim.replace('_', ' ')} {value} (name another to change it)")
    for dim in metric.default_group_by:
        if dim in available and dim not in named:
            parsed.group_by.append(available[dim])
    top = TOP_N.search(text)
    if top and parsed.group_by:
        parsed.limit = int(top.group(1))
    parsed.lowest = bool(re.search(r"\b(?:lowest|least|fewest|worst|smallest|bottom)\b", text))
    return parsed


def _period_variant(parsed: Parsed, match: Match, catalog: Catalog) -> None:
    """'active users last week' means weekly actives: a generic phrase over a calendar period picks its variant."""
    metric = parsed.metric
    if metric is None or parsed.period is None or match.phrase not in metric.generic_synonyms:
        return
    variant = metric.period_variants.get(parsed.period.kind)
    if variant and variant in catalog.metrics:
        parsed.metric = catalog.metrics[variant]
        parsed.notes.append(f"read as {parsed.metric.label.lower()} for a whole {parsed.period.kind}")


def _week_number(text: str) -> int | None:
    match = WEEK_N.search(text)
    if match:
        return int(next(g for g in match.groups() if g))
    ordinal = WEEK_ORDINAL.search(text)
    return ORDINAL_WEEKS[ordinal.group(1)] if ordinal else None


def _group_by(tokens: list[Token], taken: set[int], catalog: Catalog) -> list[str]:
    """Dimensions the question breaks down by: a dimension word right after a cue ('by plan', 'which country')."""
    found: list[tuple[int, str]] = []
    for name, phrases in _dimension_phrases(catalog).items():
        best = None
        for phrase in phrases:
            match = find(phrase, tokens, taken)
            if match is not None and (best is None or match.score > best.score):
                best = match
        if best is None:
            continue
        before = [t.raw for t in tokens if best.positions[0] - 3 <= t.index < best.positions[0]]
        after = [t.raw for t in tokens if best.positions[-1] < t.index <= best.positions[-1] + 1]
        if GROUP_CUES.intersection(before) or {"breakdown", "split"}.intersection(after):
            found.append((best.positions[0], name))
            taken |= set(best.positions)
    return [name for _, name in sorted(found)]


def _values(
    question: str,
    tokens: list[Token],
    taken: set[int],
    values: dict[str, set[str]],
    feature_names: dict[str, str],
    available: set[str],
) -> list[tuple[str, str, bool]]:
    """(dimension, value, strong) for every dimension value the question names, longest phrases first; a word that
    is a value of several dimensions ('upgrade': a funnel step and a revenue movement) goes to one the metric has."""
    candidates: list[tuple[float, str, str, Match]] = []
    for dim, known in values.items():
        for value in known:
            if value.isdigit():
                continue
            for alias in _value_aliases(dim, value, feature_names):
                match = find(alias, tokens, taken)
                if match is not None and match.score >= 3:
                    candidates.append((match.score, dim, value, match))
    candidates.sort(key=lambda c: (-c[0], c[1] not in available, c[1], c[2]))
    found: list[tuple[str, str, bool]] = []
    used = set(taken)
    for _, dim, value, match in candidates:
        if used.intersection(match.positions):
            continue
        used |= set(match.positions)
        raw = " ".join(t.raw for t in tokens if t.index in match.positions)
        found.append((dim, value, raw not in NOISE_VALUES))
    if "country" in values and sum(c.isupper() for c in question) < 0.5 * max(1, sum(c.isalpha() for c in question)):
        plain = question.replace("U.S.", "US")
        for code in sorted(values["country"]):
            named = len(code) == 2 and re.search(rf"(?<![A-Za-z]){code}(?![A-Za-z])", plain)
            if named and ("country", code, True) not in found:
                found.append(("country", code, True))
    return found


def _not_by(metric: Metric, dimension: str, available: dict[str, Dimension]) -> str:
    options = ", ".join(sorted(available)) or "no dimension (only over time)"
    return f"{metric.label} cannot be broken down or filtered by {dimension.replace('_', ' ')}; it can by: {options}."


def _siblings(metric: Metric, dimension: str, catalog: Catalog) -> list[str]:
    """Metrics that do have the dimension, nearest in kind first (for a refusal)."""
    have = [m.name for m in catalog.public_metrics if dimension in catalog.dimensions_for(m.name)]
    return have[:3]
