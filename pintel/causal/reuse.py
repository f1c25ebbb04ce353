"""Reuse of the previous feature-impact rows whose inputs did not change: cost in proportion to what changed.

A feature x horizon row is a pure function of its units (the rows of ``ml_feature_adoption_cohort`` it
compares, in the model's order), the covariates, the fitting settings (folds, seed, whether it is refuted) and
the code of :mod:`pintel.causal`. :func:`fingerprint` hashes all of them; the row carries it in its
``diagnostics`` JSON (key :data:`KEY`), and :func:`previous_rows` indexes the last run's rows by it, so a
build whose cohort did not change for a feature copies that row instead of six cross-fits. Any change --
one unit, one setting, one line of this package -- gives another fingerprint and a fresh estimate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

KEY = "input_fingerprint"


@cache
def _code_digest() -> bytes:
    """Digest of this package's source: an estimate made by other code is not reused."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.digest()


def fingerprint(df: pd.DataFrame, columns: Sequence[str], settings: dict[str, Any]) -> str:
    """Hash of ``df[columns]`` (values and order), ``settings`` and the package's code."""
    digest = hashlib.blake2b(_code_digest(), digest_size=20)
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(json.dumps(list(columns)).encode())
    frame = df[list(columns)].reset_index(drop=True)
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def previous_rows(previous: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    """The last run's estimated rows by fingerprint (rows without diagnostics carry none and are cheap)."""
    if previous is None or previous.empty or "diagnostics" not in previous:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in previous.to_dict("records"):
        text = row.get("diagnostics")
        if not isinstance(text, str):
            continue
        try:
            key = json.loads(text).get(KEY)
        except (ValueError, AttributeError):
            continue
        if key:
            out[str(key)] = row
    return out
