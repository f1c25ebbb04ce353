"""Words: normalising a question, and matching catalog phrases in it with tolerance for typos and word gaps.

A phrase (a metric's name, label or synonym; a dimension's or a value's) matches when all its content words
appear in order in the question, each either equal after light stemming ("signups" = "signup") or, for words of
five letters or more, within an edit-similarity threshold ("stickyness", "andriod", "weekely"). Up to two other
words may sit between consecutive phrase words ("users who were active"). Longer phrases win, so "weekly active
users" beats "active users".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

FUZZY_MIN_LENGTH = 5
FUZZY_THRESHOLD = 0.8  # normalised edit similarity: one typo in a 5-letter word, two in a 10-letter one
MAX_GAP = 2

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "for",
        "to",
        "from",
        "with",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "how",
        "many",
        "much",
        "what",
        "whats",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "our",
        "we",
        "us",
        "my",
        "me",
        "i",
        "you",
        "your",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "their",
        "them",
        "they",
        "he",
        "she",
        "his",
        "her",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "please",
        "show",
        "tell",
        "give",
        "get",
        "got",
        "see",
        "know",
        "let",
        "lets",
        "look",
        "looking",
        "about",
        "as",
        "into",
        "over",
        "under",
        "than",
        "then",
        "so",
        "just",
        "any",
        "some",
        "all",
        "total",
        "number",
        "count",
        "amount",
        "value",
        "level",
        "figure",
        "figures",
        "stat",
        "stats",
        "metric",
        "metrics",
        "kpi",
        "numbers",
        "like",
        "currently",
        "current",
        "now",
        "out",
        "via",
        "vs",
        "versus",
        "compared",
        "compare",
        "also",
        "tell",
        "me",
        "give",
        "me",
        "pull",
        "what's",
        "hey",
        "hi",
        "okay",
        "ok",
    ]
)

# ISO 3166 alpha-2 codes the simulator and most products use, with the names people say.
COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "US": ("united states", "usa", "america", "u s", "the states", "american"),
    "GB": ("united kingdom", "uk", "britain", "great britain", "england", "british"),
    "DE": ("germany", "german"),
    "FR": ("france", "french"),
    "IN": ("india", "indian"),
    "BR": ("brazil", "brasil", "brazilian"),
    "CA": ("canada", "canadian"),
    "AU": ("australia", "australian"),
    "JP": ("japan", "japanese"),
    "ES": ("spain", "spanish"),
    "IT": ("italy", "italian"),
    "NL": ("netherlands", "holland", "dutch"),
    "SE": ("sweden", "swedish"),
    "MX": ("mexico", "mexican"),
    "CN": ("china", "chinese"),
    "KR": ("south korea", "korea", "korean"),
    "SG": ("singapore",),
    "IE": ("ireland", "irish"),
    "CH": ("switzerland", "swiss"),
    "PL": ("poland", "polish"),
    "NG": ("nigeria",),
    "ZA": ("south africa",),
    "AR": ("argentina",),
    "IL": ("israel",),
    "NZ": ("new zealand",),
}


def normalize(text: str) -> str:
    """Lowercase, straight quotes, no possessives, single spaces; keeps the punctuation dates need."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"').lower()
    text = re.sub(r"'s\b", "", text)
    return " ".join(text.split())


def stem(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


@dataclass(frozen=True)
class Token:
    text: str  # stemmed
    raw: str
    index: int  # position among the question's tokens


def tokenize(text: str) -> list[Token]:
    words = re.findall(r"[a-z0-9]+", text.replace("_", " "))
    return [Token(stem(w), w, i) for i, w in enumerate(words)]


@lru_cache(maxsize=4096)
def phrase_words(phrase: str) -> tuple[tuple[str, str], ...]:
    """(stem, word) of the phrase's content words (all words when it has no content word)."""
    words = re.findall(r"[a-z0-9]+", normalize(phrase).replace("_", " "))
    content = tuple((stem(w), w) for w in words if w not in STOPWORDS)
    return content or tuple((stem(w), w) for w in words)


def phrase_tokens(phrase: str) -> tuple[str, ...]:
    return tuple(s for s, _ in phrase_words(phrase))


def similarity(word: tuple[str, str], token: Token) -> float:
    """1 for the same stem; else the closer of stem and surface forms when within the typo threshold."""
    if word[0] == token.text:
        return 1.0
    best = 0.0
    for a, b in ((word[0], token.text), (word[1], token.raw)):
        if len(a) >= FUZZY_MIN_LENGTH and len(b) >= FUZZY_MIN_LENGTH and a[0] == b[0]:
            best = max(best, OSA.normalized_similarity(a, b))  # a transposition ('signpus') is one edit
    return best if best >= FUZZY_THRESHOLD else 0.0


@dataclass(frozen=True)
class Match:
    phrase: str
    score: float
    positions: tuple[int, ...]
    exact: bool


def find(phrase: str, tokens: list[Token], taken: set[int] | frozenset[int] = frozenset()) -> Match | None:
    """The best in-order occurrence of ``phrase`` among the question's content ``tokens`` not yet ``taken``."""
    wanted = phrase_words(phrase)
    if not wanted:
        return None
    free = [t for t in tokens if t.index not in taken and t.raw not in STOPWORDS]
    best: Match | None = None
    for start, token in enumerate(free):
        first = similarity(wanted[0], token)
        if first == 0.0:
            continue
        positions, sims, cursor = [token.index], [first], start
        for word in wanted[1:]:
            hit = None
            for nxt in range(cursor + 1, min(cursor + 2 + MAX_GAP, len(free))):
                s = similarity(word, free[nxt])
                if s > 0.0:
                    hit = (nxt, s)
                    break
            if hit is None:
                break
            cursor = hit[0]
            positions.append(free[cursor].index)
            sims.append(hit[1])
        if len(positions) != len(wanted):
            continue
        gaps = positions[-1] - positions[0] - (len(positions) - 1)
        score = sum(len(w[0]) * s for w, s in zip(wanted, sims, strict=True)) - 0.5 * gaps
        candidate = Match(phrase, score, tuple(positions), all(s == 1.0 for s in sims))
        if best is None or candidate.score > best.score:
            best = candidate
    return best
