"""Actions: decisions delivered to Slack and to the flag store, served over OpenFeature, under a kill switch.

``deliver(con, decisions, policy, client=None)`` executes decision rows (flag changes with audit rows naming the
decision, then Block Kit messages through the outbox, exactly once); ``flags`` is the flag store and its audit;
``kill_switch.is_on(con)`` says whether automatic actions are stopped.
"""

from pintel.act.deliver import DeliveryReport, deliver, deliver_outcomes

__all__ = ["DeliveryReport", "deliver", "deliver_outcomes"]
