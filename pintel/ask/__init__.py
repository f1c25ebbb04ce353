"""`pintel ask`: plain-language questions answered from the governed metrics (dbt semantic layer + MetricFlow).

``ask(question, warehouse)`` returns an :class:`~pintel.ask.answer.Answer` (its ``to_dict()`` is the `--json`
contract). The offline parser is the default; ``PINTEL_LLM=anthropic|openai`` lets a model pick catalog entries
through a tool call instead (never SQL), with every number of its text checked against the result.
"""

from __future__ import annotations

from pintel.ask.answer import Answer
from pintel.ask.engine import ask, warm

__all__ = ["Answer", "ask", "warm"]
