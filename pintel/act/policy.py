"""The part of the decision policy delivery reads: routing, the human-override window, the daily cap, the switch.

One source: the schema is the engine's (:class:`pintel.decide.policy.DeliveryRules`, which the full
:class:`pintel.decide.Policy` extends). Delivery validates only the fields it acts on, from whatever it is
handed (the engine's policy object, a mapping or the YAML path), so a policy it cannot route fails by name
before anything is sent. These names are kept for delivery's callers.
"""

from __future__ import annotations

from pintel.decide.policy import SEVERITIES, Channels, PolicyError, default_policy_path, load_delivery_rules
from pintel.decide.policy import DeliveryRules as DeliveryPolicy

load_delivery_policy = load_delivery_rules

__all__ = ["SEVERITIES", "Channels", "DeliveryPolicy", "PolicyError", "default_policy_path", "load_delivery_policy"]
