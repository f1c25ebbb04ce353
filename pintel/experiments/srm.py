"""Sample-ratio mismatch (SRM): are the arms the size the randomiser was told to make them?

An SRM means units were lost or added after assignment in a way that depends on the arm (a crash
in the new variant, a redirect, a bot filter hitting one side). The surviving arms are then no
longer comparable and no lift computed from them can be trusted, however significant. The test is
a chi-square goodness of fit of unit counts against the configured split; the conventional alarm
threshold is p < 0.001 (Kohavi et al., "Trustworthy Online Controlled Experiments"), strict because
the test is run on every experiment and a false alarm discards a valid result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class SRMResult:
    """Chi-square SRM test; shares are fractions of all assigned units."""

    chi2: float
    p_value: float
    detected: bool
    observed_share: dict[str, float]
    expected_share: dict[str, float]


def normalise_split(expected: Mapping[str, float]) -> dict[str, float]:
    """Accept weights in any unit (0.5/0.5, 50/50, 1/1) and return fractions summing to one."""
    total = float(sum(expected.values()))
    if not expected or any(not w > 0 for w in expected.values()):
        raise ValueError(f"expected_split needs a positive weight for every variant, got {dict(expected)}")
    return {k: float(w) / total for k, w in expected.items()}


def srm_test(counts: Mapping[str, int], expected: Mapping[str, float], alpha: float = 0.001) -> SRMResult:
    """Test observed unit ``counts`` per variant against the ``expected`` split.

    Variants in ``expected`` but absent from ``counts`` count as 0 units -- an arm that received no
    traffic at all is the most extreme mismatch there is.
    """
    shares = normalise_split(expected)
    names = list(shares)
    observed = np.array([counts.get(name, 0) for name in names], dtype=float)
    total = observed.sum()
    if total == 0:
        raise ValueError("no units to test for sample-ratio mismatch")
    chi2, p_value = stats.chisquare(observed, f_exp=total * np.array([shares[n] for n in names]))
    return SRMResult(
        chi2=float(chi2),
        p_value=float(p_value),
        detected=bool(p_value < alpha),
        observed_share={n: float(c / total) for n, c in zip(names, observed, strict=True)},
        expected_share=shares,
    )
