"""The decision engine: act, roll back, monitor or escalate -- by expected value under a versioned policy.

``decide(con)`` writes ``decide.decisions``; ``evaluate_outcomes(con)`` writes ``decide.action_outcomes``;
``load_policy`` validates ``policies/default.yml``. Delivery (``pintel.act``) reads decisions through
``load_decisions``. Names load on first use so ``import pintel.decide`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_NAMES = {
    "Policy": "pintel.decide.policy",
    "PolicyError": "pintel.decide.policy",
    "load_policy": "pintel.decide.policy",
    "default_policy_path": "pintel.decide.policy",
    "DeliveryRules": "pintel.decide.policy",
    "load_decisions": "pintel.decide.tables",
    "load_outcomes": "pintel.decide.tables",
    "markdown_table": "pintel.decide.tables",
    "decide": "pintel.decide.engine",
    "DecisionRun": "pintel.decide.engine",
    "evaluate_outcomes": "pintel.decide.outcomes",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'pintel.decide' has no attribute {name!r}")
