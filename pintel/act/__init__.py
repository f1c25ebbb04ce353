"""Actions: decisions delivered to Slack and to the flag store, served over OpenFeature, under a kill switch.

``deliver(con, decisions, policy, client=None)`` executes decision rows (flag changes with audit rows naming the
decision, then Block Kit messages through the outbox, exactly once); ``flags`` is the flag store and its audit;
``kill_switch.is_on(con)`` says whether automatic actions are stopped. The delivery names load on first use, so
``pintel serve`` (which only evaluates flags) does not import the Slack client.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DeliveryReport", "deliver", "deliver_outcomes"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from pintel.act import delivery as module

        value = globals()[name] = getattr(module, name)
        return value
    raise AttributeError(f"module 'pintel.act' has no attribute {name!r}")
