"""Randomised-experiment analysis: SRM checks, lifts with CIs, CUPED and always-valid intervals.

``analyze_experiment`` is the entry point; the building blocks live in small modules named for
what they do (``srm``, ``lift``, ``cuped``, ``sequential``).
"""

from __future__ import annotations

from pintel.experiments.analysis import Comparison, ExperimentResult, VariantStats, analyze_experiment
from pintel.experiments.lift import Lift
from pintel.experiments.sequential import ConfidenceSequence
from pintel.experiments.srm import SRMResult, srm_test

__all__ = [
    "Comparison",
    "ConfidenceSequence",
    "ExperimentResult",
    "Lift",
    "SRMResult",
    "VariantStats",
    "analyze_experiment",
    "srm_test",
]
