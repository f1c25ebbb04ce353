"""Causal effect estimation on observational product data.

``estimate_effect`` is the entry point: doubly-robust AIPW (or IPW / g-computation) with
cross-fitted scikit-learn nuisance models chosen by out-of-fold loss, overlap trimming, balance
diagnostics and refutations.
"""

from __future__ import annotations

from pintel.causal.diagnostics import ArmPropensity, Balance, Diagnostics, Overlap, Refutation
from pintel.causal.estimate import EffectEstimate, estimate_effect
from pintel.causal.estimators import NaiveEstimate

__all__ = [
    "ArmPropensity",
    "Balance",
    "Diagnostics",
    "EffectEstimate",
    "NaiveEstimate",
    "Overlap",
    "Refutation",
    "estimate_effect",
]
