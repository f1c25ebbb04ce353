"""flagd's targeting language: JsonLogic plus flagd's ``fractional``, ``starts_with``, ``ends_with`` and ``sem_ver``.

Why pintel evaluates flagd's dialect itself instead of a private rule format: the flag store keeps each flag's
targeting exactly as flagd would read it, so ``pintel flags export`` is a copy, not a translation, and a team that
moves to flagd sees every user in the same bucket. ``fractional`` follows flagd's reference implementation:
MurmurHash3 (x86, 32-bit, seed 0) of the bucketing value — by default the flag key followed by the targeting key —
scaled onto the summed integer weights as ``hash * total >> 32``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

import mmh3

MAX_WEIGHT_SUM = 2**31 - 1


class TargetingError(ValueError):
    """A targeting rule that flagd would reject or that pintel cannot evaluate; the message names the problem."""


class TargetingKeyMissing(ValueError):
    """``fractional`` needs a bucketing value and the context has no ``targetingKey``."""


def truthy(value: Any) -> bool:
    """JsonLogic truthiness: 0, "", [], null and false are false; every object is true."""
    if isinstance(value, dict):
        return True
    return bool(value)


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if value is None:
        return 0.0
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(text)
        except ValueError:
            return math.nan
    return math.nan


def loose_equal(a: Any, b: Any) -> bool:
    """JavaScript's ``==`` on JSON values, as JsonLogic defines ``==``."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return a == b
    if type(a) is type(b):
        return a == b
    return _number(a) == _number(b)


def strict_equal(a: Any, b: Any) -> bool:
    """``===``: same JSON type and value (true is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _lookup(data: Any, path: Any, default: Any = None) -> Any:
    if path is None or path == "":
        return data
    current = data
    for part in str(path).split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return default
    return current


def _var(args: list, data: Any) -> Any:
    path = args[0] if args else None
    default = args[1] if len(args) > 1 else None
    return _lookup(data, path, default)


def _missing(args: list, data: Any) -> list:
    keys = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    return [key for key in keys if _lookup(data, key) in (None, "")]


def _compare(op: Callable[[float, float], bool]) -> Callable[[list, Any], bool]:
    def run(args: list, _data: Any) -> bool:
        numbers = [_number(a) for a in args]
        if any(math.isnan(n) for n in numbers) or len(numbers) < 2:
            return False
        return all(op(x, y) for x, y in itertools.pairwise(numbers))

    return run


def _in(args: list, _data: Any) -> bool:
    if len(args) < 2:
        return False
    needle, haystack = args[0], args[1]
    if isinstance(haystack, str):
        return isinstance(needle, str | int | float) and str(needle) in haystack
    if isinstance(haystack, list):
        return any(loose_equal(needle, item) for item in haystack)
    return False


def _string_op(test: Callable[[str, str], bool]) -> Callable[[list, Any], bool]:
    def run(args: list, _data: Any) -> bool:
        return len(args) == 2 and all(isinstance(a, str) for a in args) and test(args[0], args[1])

    return run


_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?$")


def _version(text: Any) -> tuple[int, int, int] | None:
    match = _SEMVER.match(str(text).strip()) if isinstance(text, str | int | float) else None
    return tuple(int(g or 0) for g in match.groups()) if match else None  # type: ignore[return-value]


def _sem_ver(args: list, _data: Any) -> bool:
    if len(args) != 3:
        return False
    left, op, right = _version(args[0]), args[1], _version(args[2])
    if left is None or right is None:
        return False
    checks = {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
        "^": left[0] == right[0] and left >= right,
        "~": left[:2] == right[:2] and left >= right,
    }
    return checks.get(op, False)


def _arith(args: list, op: str) -> Any:
    numbers = [_number(a) for a in args]
    if not numbers or any(math.isnan(n) for n in numbers):
        return None
    if op == "+":
        return sum(numbers)
    if op == "*":
        return math.prod(numbers)
    if op == "-":
        return -numbers[0] if len(numbers) == 1 else numbers[0] - numbers[1]
    if len(numbers) < 2 or numbers[1] == 0:
        return None
    return numbers[0] / numbers[1] if op == "/" else math.fmod(numbers[0], numbers[1])


def bucket(value: str, total_weight: int) -> int:
    """flagd's bucket of a bucketing value among ``total_weight`` integer units."""
    return (mmh3.hash(value, 0, signed=False) * total_weight) >> 32


def _fractional(args: list, data: Any) -> Any:
    if not args:
        return None
    first, rest = args[0], args[1:]
    if isinstance(first, str):
        bucket_by = first
    else:
        if first is not None:  # no bucketing expression: the first item is already a distribution
            rest = args
        targeting_key = data.get("targetingKey") if isinstance(data, dict) else None
        if not isinstance(targeting_key, str) or not targeting_key:
            raise TargetingKeyMissing("this flag's percentage rollout buckets users by targetingKey; send one")
        flag_key = _lookup(data, "$flagd.flagKey", "")
        bucket_by = f"{flag_key}{targeting_key}"
    weighted = _distribution(rest)
    total = sum(weight for _, weight in weighted)
    if total == 0:
        return None
    point = bucket(bucket_by, total)
    end = 0
    for variant, weight in weighted:
        end += weight
        if point < end:
            return variant
    return None


def _distribution(items: Iterable[Any]) -> list[tuple[Any, int]]:
    weighted: list[tuple[Any, int]] = []
    for item in items:
        if not isinstance(item, list) or not item:
            raise TargetingError("each fractional entry must be [variant, weight]")
        variant = item[0]
        if isinstance(variant, list | dict):
            raise TargetingError("a fractional variant must be a string, number, boolean or null")
        weight: Any = item[1] if len(item) > 1 and item[1] is not None else 1
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight != int(weight) or weight < 0:
            raise TargetingError(f"fractional weight {weight!r} for {variant!r} must be a non-negative integer")
        weighted.append((variant, int(weight)))
    if sum(weight for _, weight in weighted) > MAX_WEIGHT_SUM:
        raise TargetingError(f"fractional weights sum to more than {MAX_WEIGHT_SUM}")
    return weighted


_EAGER: dict[str, Callable[[list, Any], Any]] = {
    "var": _var,
    "missing": _missing,
    "==": lambda a, _d: loose_equal(*([*a, None, None])[:2]),
    "!=": lambda a, _d: not loose_equal(*([*a, None, None])[:2]),
    "===": lambda a, _d: strict_equal(*([*a, None, None])[:2]),
    "!==": lambda a, _d: not strict_equal(*([*a, None, None])[:2]),
    "!": lambda a, _d: not truthy(a[0] if a else None),
    "!!": lambda a, _d: truthy(a[0] if a else None),
    "<": _compare(lambda x, y: x < y),
    "<=": _compare(lambda x, y: x <= y),
    ">": _compare(lambda x, y: x > y),
    ">=": _compare(lambda x, y: x >= y),
    "in": _in,
    "cat": lambda a, _d: "".join("" if v is None else str(v) for v in a),
    "substr": lambda a, _d: str(a[0])[int(_number(a[1])) :] if len(a) == 2 else str(a[0]) if a else "",
    "min": lambda a, _d: min((_number(v) for v in a), default=None),
    "max": lambda a, _d: max((_number(v) for v in a), default=None),
    "merge": lambda a, _d: [x for v in a for x in (v if isinstance(v, list) else [v])],
    "+": lambda a, _d: _arith(a, "+"),
    "-": lambda a, _d: _arith(a, "-"),
    "*": lambda a, _d: _arith(a, "*"),
    "/": lambda a, _d: _arith(a, "/"),
    "%": lambda a, _d: _arith(a, "%"),
    "starts_with": _string_op(str.startswith),
    "ends_with": _string_op(str.endswith),
    "sem_ver": _sem_ver,
    "fractional": _fractional,
}
_LAZY = {"if", "?:", "and", "or"}
OPERATORS = frozenset(_EAGER) | _LAZY


def evaluate(rule: Any, data: Any) -> Any:
    """The value of a JsonLogic ``rule`` on ``data`` (the evaluation context plus ``$flagd``)."""
    if isinstance(rule, list):
        return [evaluate(item, data) for item in rule]
    if not isinstance(rule, dict) or len(rule) != 1:
        return rule
    op, raw = next(iter(rule.items()))
    args = raw if isinstance(raw, list) else [raw]
    if op in ("if", "?:"):
        for i in range(0, len(args) - 1, 2):
            if truthy(evaluate(args[i], data)):
                return evaluate(args[i + 1], data)
        return evaluate(args[-1], data) if len(args) % 2 == 1 else None
    if op in ("and", "or"):
        value = None
        for item in args:
            value = evaluate(item, data)
            if truthy(value) != (op == "and"):
                return value
        return value
    func = _EAGER.get(op)
    if func is None:
        raise TargetingError(f"unknown targeting operator {op!r}")
    return func([evaluate(a, data) for a in args], data)


def validate(rule: Any, variants: Iterable[str] = ()) -> None:
    """Raise :class:`TargetingError` for operators or ``fractional`` entries flagd would not accept.

    Literal variant names returned by ``fractional`` must be among ``variants`` (when given), so a typo is
    caught when the flag is written, not when a user is bucketed into a variant that does not exist.
    """
    known = set(variants)
    if isinstance(rule, list):
        for item in rule:
            validate(item, known)
        return
    if not isinstance(rule, dict):
        return
    if "$ref" in rule:
        raise TargetingError("shared $evaluators ($ref) are not supported in pintel's flag store; inline the rule")
    if len(rule) != 1:
        return
    op, raw = next(iter(rule.items()))
    if op not in OPERATORS:
        raise TargetingError(f"unknown targeting operator {op!r}; supported: {', '.join(sorted(OPERATORS))}")
    args = raw if isinstance(raw, list) else [raw]
    if op == "fractional":
        entries = args[1:] if args and not isinstance(args[0], list) else args
        literal = [e for e in entries if isinstance(e, list)]
        _distribution(literal)
        for entry in literal:
            if known and isinstance(entry[0], str) and entry[0] not in known:
                raise TargetingError(f"fractional names variant {entry[0]!r}, which this flag does not define")
    for item in args:
        validate(item, known)
