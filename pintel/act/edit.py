"""Building a flag change from what a person asks for (the CLI and the API share this one builder).

People think in rollouts ("50 % of android"), not in JsonLogic, so :func:`rollout_targeting` writes the flagd rule:
``if`` the context matches, ``fractional`` splits the users by the flag key and their targeting key — the same
stable hash flagd uses — and everyone else gets the default variant.
"""

from __future__ import annotations

from typing import Any

from pintel.act.flag import BOOLEAN_VARIANTS, Flag, FlagError

UNSET: Any = object()


def rollout_targeting(
    percent: float, where: dict[str, Any] | None = None, on: str = "on", off: str = "off"
) -> dict[str, Any]:
    """flagd targeting that serves ``on`` to ``percent`` % of the users matching ``where`` (attribute -> value)."""
    if not 0 <= percent <= 100:
        raise FlagError(f"a rollout percentage must be between 0 and 100, not {percent}")
    scale = 100 if float(percent).is_integer() else 10_000
    share = round(percent * scale / 100)
    split: dict[str, Any] = {"fractional": [[on, share], [off, scale - share]]}
    if not where:
        return split
    tests = [{"==": [{"var": name}, value]} for name, value in sorted(where.items())]
    condition = tests[0] if len(tests) == 1 else {"and": tests}
    return {"if": [condition, split, None]}


def parse_where(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["platform=android"]`` -> ``{"platform": "android"}``, with an error naming a malformed pair."""
    where: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise FlagError(f"--where {pair!r} must look like attribute=value (e.g. platform=android)")
        where[name.strip()] = value.strip()
    return where


def edited(
    existing: Flag | None,
    key: str,
    *,
    variant: str | None = None,
    variants: dict[str, Any] | None = None,
    targeting: Any = UNSET,
    state: str | None = None,
    description: str | None = None,
    rollout: float | None = None,
    where: dict[str, Any] | None = None,
    on_variant: str = "on",
) -> Flag:
    """The flag after a person's change: a new flag gets boolean ``on``/``off`` variants, default ``off``.

    ``variant`` serves one variant to everyone (clearing targeting unless ``targeting`` is given too);
    ``rollout`` (with optional ``where``) replaces the targeting with a percentage rollout of ``on_variant``.
    """
    flag = existing or Flag(key=key, variants=dict(variants or BOOLEAN_VARIANTS), default_variant=None)
    if existing is None and flag.default_variant is None:
        flag = flag.with_definition({"default_variant": "off" if "off" in flag.variants else next(iter(flag.variants))})
    changes: dict[str, Any] = {}
    if variants is not None and existing is not None:
        changes["variants"] = variants
    if variant is not None:
        changes["default_variant"] = variant
        changes["targeting"] = None
    if rollout is not None:
        if targeting is not UNSET:
            raise FlagError("give either --rollout or --targeting, not both")
        off = changes.get("default_variant", flag.default_variant) or "off"
        changes["targeting"] = rollout_targeting(rollout, where, on=on_variant, off=off)
    elif where:
        raise FlagError("--where only applies with --rollout")
    if targeting is not UNSET:
        changes["targeting"] = targeting
    if state is not None:
        changes["state"] = state.upper()
    if description is not None:
        changes["description"] = description
    return flag.with_definition(changes).validated()
