"""Questions `pintel ask` refuses before reading anything: SQL or commands in the question, and personal data.

`pintel ask` answers aggregate product metrics. It never runs text from a question (SQL is generated from the
catalog only), so a question carrying SQL is not dangerous, but it is not a question either: it is refused and
the asker is told why. Requests for personal data (emails, names, phone numbers, one user's events or a list of
users) are refused too: the catalog holds aggregates, and the warehouse's user-level rows are not for a chat box.
"""

from __future__ import annotations

import re

SQL_PATTERNS = (
    r"\b(?:drop|truncate|alter)\s+(?:table|view|schema|database|index)\b",
    r"\bdelete\s+from\b",
    r"\binsert\s+into\b",
    r"\bupdate\s+\w+\s+set\b",
    r"\bcreate\s+(?:or\s+replace\s+)?(?:table|view|schema|macro|secret|function)\b",
    r"\bselect\b.+\bfrom\b",
    r"\bunion\s+(?:all\s+)?select\b",
    r"\b(?:attach|detach|pragma|install|load)\s+['\"\w]",
    r"\bcopy\s+.+\b(?:to|from)\s+'",
    r"\bexec(?:ute)?\s*\(",
    r";\s*--|--\s*$|/\*|\*/",
    r"'\s*or\s+'?\d+'?\s*=\s*'?\d+",
    r"\bor\s+1\s*=\s*1\b",
    r"\b(?:read_csv|read_parquet|read_json|getenv|system)\s*\(",
    r"\$\{|\{\{|\}\}",
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|your\s+|the\s+|previous\s+|prior\s+)*(?:instructions|rules|prompt)",
)
DESTRUCTIVE = (
    r"\b(?:delete|truncate|wipe|erase|destroy|overwrite|purge)\b(?:\s+\w+){0,3}\s+"
    r"(?:table|tables|database|warehouse|schema|rows|data|records|users|events|everything)\b",
    r"\bdrop\s+(?:the\s+|all\s+|every\s+)*(?:tables?|database|schema|warehouse|views?|everything)\b",
)
PERSONAL_PATTERNS = (
    r"\b(?:e-?mail|email address|e-mail address)(?:es|s)?\b",
    r"\b(?:phone|telephone|mobile)\s*(?:number|numbers|no)\b",
    r"\b(?:home\s+|street\s+|postal\s+|ip\s+)?address(?:es)?\b",
    r"\b(?:first|last|full|real|user|customer)\s*names?\b",
    r"\bnames?\s+of\b",
    r"\bwho\s+(?:are|is|were|was)\s+(?:the\s+)?(?:users?|customers?|people|accounts?)\b",
    r"\b(?:list|export|dump|download)\b(?:\s+\w+){0,3}\s+(?:users?|customers?|people|accounts?|ids)\b"
    r"(?!\s+(?:count|by|per|growth|numbers?))",
    r"\b(?:show|give|get)\s+(?:me\s+)?(?:all|the|every|each)\s+(?:the\s+)?(?:users?|customers?|people|accounts?)\b"
    r"(?!\s+(?:count|by|per|growth|numbers?))",
    r"\bwhich\s+(?:specific\s+|individual\s+)?(?:users?|customers?|people|accounts?)\b",
    r"\buser\s*(?:id|ids)\b|\buserid\b|\bmessage\s*ids?\b|\banonymous\s*ids?\b",
    r"\b(?:user|customer|account)\s+(?:[a-z_]*\d[\w-]*|#\s*\d+)\b",
    r"\b[\w.+-]+@[\w-]+\.[\w.]+\b",
    r"\b(?:passwords?|credit\s*cards?|ssn|social\s+security|api\s*keys?|tokens?|secrets?|credentials?)\b",
    r"\bevents\s+(?:of|for|by)\s+(?:user|customer|account|[a-z]+\d+)\b",
    r"\b(?:raw|individual|personal|pii|private)\s+(?:data|events|rows|records|details|information|info)\b",
    r"\bpii\b|\bgdpr\s+export\b",
)


def screen(question: str) -> str | None:
    """A refusal explanation when the question is hostile or asks for personal data; None when it is fine."""
    text = " ".join(question.lower().split())
    for pattern in SQL_PATTERNS:
        if re.search(pattern, text):
            return (
                "This looks like SQL or an instruction, not a question. pintel ask never runs text from a question: "
                "it answers questions about the catalog's metrics (e.g. 'weekly active users last week') with SQL "
                "generated from the metric definitions, on a read-only connection."
            )
    if any(re.search(pattern, text) for pattern in DESTRUCTIVE):
        return (
            "pintel ask only reads aggregate metrics; it cannot change, delete or drop anything (the warehouse is "
            "opened read-only). Ask about a metric instead, e.g. 'signups by channel last month'."
        )
    for pattern in PERSONAL_PATTERNS:
        if re.search(pattern, text):
            return (
                "pintel ask answers aggregate metrics only; it does not return personal data (emails, names, contact "
                "details) or individual users' records and events. Ask for a metric, optionally broken down by plan, "
                "platform, country, channel or segment."
            )
    return None
