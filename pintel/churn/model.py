"""The churn model base class: one fitted version plus everything needed to score, explain and audit it.

A version is a class (:class:`~pintel.churn.logistic.LogisticChurnModel` for v1,
:class:`~pintel.churn.boosted.BoostedChurnModel` for v2). Each owns how it is fitted, how its probability is
computed and how it attributes a prediction to features (its log-odds *contributions*) together with the
word its reasons use for the value it compares against. Everything version-independent lives here once:
encoding a frame, risk bands, turning contributions into reason texts, and the provenance (cut-offs, hash)
every fitted version carries, so every stored prediction can be traced to the exact model that made it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from pintel.churn.calibration import apply_shift
from pintel.churn.features import MISSING_CATEGORY, FeatureSpec

__all__ = [
    "REASON_MIN_LOGODDS",
    "RISK_BAND_QUANTILES",
    "ChurnModel",
    "EncodedRows",
    "TrainingContext",
    "thread_limit",
]

#: Risk bands are absolute probability cut-offs frozen at training time: the 90th / 70th percentile of the
#: model's calibrated probabilities on the calibrate window. So "high" is the top decile of a typical
#: training-period week, "medium" the next two deciles. Frozen (not re-ranked per scoring run) so bands mean
#: the same thing every week: if the whole base gets riskier, the *share* of high-risk users rises, which is
#: itself a signal, instead of always being 10 %.
RISK_BAND_QUANTILES: dict[str, float] = {"high": 0.90, "medium": 0.70}

#: A feature becomes a reason only when it raises the log-odds by more than this (~1 % of the odds);
#: smaller pushes are noise and would fill reason slots with trivia.
REASON_MIN_LOGODDS = 0.01


def thread_limit(n_threads: int | None) -> contextlib.AbstractContextManager[Any]:
    """Cap OpenMP threads (the boosted trees) for the duration of a call.

    Why: dbt runs several Python models concurrently and Dagster may run several ops per box; OpenMP's
    default of one busy-waiting thread per core then oversubscribes the CPU and a 0.5 s fit can take 30 s.
    ``None`` keeps scikit-learn's default (all cores).
    """
    if n_threads is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n_threads, user_api="openmp")


@dataclass(frozen=True)
class EncodedRows:
    """Feature rows normalised (:meth:`FeatureSpec.prepare`) and encoded once.

    Why a type of its own: scoring a million rows needs the probability of every row and the reasons of some,
    and encoding is a large share of the cost; passing this to :meth:`ChurnModel.predict_proba` and
    :meth:`ChurnModel.explain` lets both reuse one encoding instead of each redoing it.
    """

    prepared: pd.DataFrame
    matrix: np.ndarray

    def __len__(self) -> int:
        return len(self.prepared)

    def take(self, rows: np.ndarray) -> EncodedRows:
        """The given row positions only (e.g. the high-risk users someone will contact)."""
        return EncodedRows(self.prepared.iloc[rows].reset_index(drop=True), self.matrix[rows])


def model_hash(version: str, features: list[str], params: dict[str, Any], data_fingerprint: str) -> str:
    """sha256 of what makes a model this model: version, features, params and the data it was fitted on."""
    payload = {"version": version, "features": features, "params": params, "data": data_fingerprint}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class TrainingContext:
    """What :func:`~pintel.churn.train.train_models` hands every model class: the prepared windows and the
    provenance common to all versions (so each class only says what is its own)."""

    spec: FeatureSpec
    x_train: pd.DataFrame
    y_train: np.ndarray
    x_calibrate: pd.DataFrame
    y_calibrate: np.ndarray
    seed: int
    common_params: dict[str, Any]
    fingerprint: str
    trained_at: pd.Timestamp
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    notes: list[str]

    def provenance(self, version: str, params: Mapping[str, Any], calibrate_probability: np.ndarray) -> dict[str, Any]:
        """The version-independent fields of a fitted model: params with the frozen risk-band cut-offs
        (:data:`RISK_BAND_QUANTILES` of the calibrate window's probabilities), the hash and the windows."""
        merged = {**self.common_params, **params}
        merged["risk_band_thresholds"] = {
            band: float(np.quantile(calibrate_probability, q)) for band, q in RISK_BAND_QUANTILES.items()
        }
        return {
            "version": version,
            "spec": self.spec,
            "band_thresholds": merged["risk_band_thresholds"],
            "params": merged,
            "model_hash": model_hash(version, self.spec.features, merged, self.fingerprint),
            "trained_at": self.trained_at,
            "train_start": self.train_start,
            "train_end": self.train_end,
            "warnings": list(self.notes),
        }


@dataclass(kw_only=True)
class ChurnModel(ABC):
    """A fitted churn model version. Subclasses say how they fit, predict and attribute; see the module doc.

    ``estimator`` produces the log-odds used for explanations; ``reference`` holds the value each feature is
    compared against in reasons (named by the class's :attr:`reference_label`). ``logit_shift`` is the
    prior-shift adjustment (:mod:`pintel.churn.calibration`) added to the calibrated log-odds: fitted on the
    latest labelled snapshots before the test window, so the held-out evaluation judges it honestly;
    :meth:`for_serving` moves it to the newest labelled snapshots for scoring.
    """

    #: How reasons name the reference value, e.g. "(21 vs typical 3)".
    reference_label: ClassVar[str]

    version: str
    spec: FeatureSpec
    preprocessor: Any
    estimator: Any
    groups: tuple[np.ndarray, ...]
    reference: dict[str, Any]
    reference_encoded: np.ndarray
    band_thresholds: dict[str, float]
    params: dict[str, Any]
    model_hash: str
    trained_at: pd.Timestamp
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    warnings: list[str] = field(default_factory=list)
    logit_shift: float = 0.0

    @classmethod
    @abstractmethod
    def fit(cls, version: str, context: TrainingContext, overrides: Mapping[str, Any] | None = None) -> Self:
        """Fit this model class on ``context``'s windows; ``overrides`` replace the class's default params."""

    @abstractmethod
    def _probability(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated churn probability of each encoded row."""

    @abstractmethod
    def _contributions(self, rows: EncodedRows) -> np.ndarray:
        """(rows, features) log-odds contributions; positive pushes churn risk up."""

    @property
    def features(self) -> list[str]:
        return self.spec.features

    # -- probabilities -------------------------------------------------------------------------------
    def encode(self, df: pd.DataFrame) -> EncodedRows:
        """Normalise and encode ``df`` (which needs the model's feature columns) for the methods below."""
        prepared = self.spec.prepare(df)
        return EncodedRows(prepared, np.asarray(self.preprocessor.transform(prepared), dtype=np.float64))

    def _rows(self, data: pd.DataFrame | EncodedRows) -> EncodedRows:
        return data if isinstance(data, EncodedRows) else self.encode(data)

    def predict_proba(self, data: pd.DataFrame | EncodedRows) -> np.ndarray:
        """Calibrated probability of churning within the label horizon, per row of ``data``."""
        return apply_shift(self._probability(self._rows(data).matrix), self.logit_shift)

    def for_serving(self) -> Self:
        """This model with the prior shift solved on the newest fully labelled snapshots (the test window's,
        ``params["serving_prior_shift"]``), which is what scoring today's snapshot should use; itself when the
        model has none (trained before the shift existed)."""
        serving = self.params.get("serving_prior_shift")
        if not serving:
            return self
        return dataclasses.replace(self, logit_shift=float(serving["delta"]))

    def risk_bands(self, probability: np.ndarray, thresholds: Mapping[str, float] | None = None) -> np.ndarray:
        """``"high"`` at or above ``thresholds["high"]``, ``"medium"`` at or above ``["medium"]``, else ``"low"``;
        the model's frozen cut-offs unless ``thresholds`` is given."""
        cut = dict(thresholds) if thresholds is not None else self.band_thresholds
        return np.where(
            probability >= cut["high"], "high", np.where(probability >= cut["medium"], "medium", "low")
        ).astype(object)

    # -- explanations --------------------------------------------------------------------------------
    def contributions(self, data: pd.DataFrame | EncodedRows) -> pd.DataFrame:
        """Per-row, per-feature log-odds contributions (positive = pushes churn risk up)."""
        rows = self._rows(data)
        index = data.index if isinstance(data, pd.DataFrame) else None
        return pd.DataFrame(self._contributions(rows), columns=self.features, index=index)

    def explain(self, data: pd.DataFrame | EncodedRows, n_reasons: int = 3) -> pd.DataFrame:
        """Columns ``reason_1..reason_n``: the features pushing each row's risk up the most, strongest first.

        Texts read like ``"days_since_last_active high (21 vs typical 3)"``; None where fewer features raise the
        log-odds by more than :data:`REASON_MIN_LOGODDS`.
        """
        rows = self._rows(data)
        contributions = self._contributions(rows)
        n, k = contributions.shape
        masked = np.where(contributions > REASON_MIN_LOGODDS, contributions, -np.inf)
        depth = min(n_reasons, k)
        top = np.argsort(-masked, axis=1, kind="stable")[:, :depth]
        out: dict[str, np.ndarray] = {}
        for r in range(n_reasons):
            column = np.full(n, None, dtype=object)
            if r < depth:
                idx = top[:, r]
                valid = np.isfinite(np.take_along_axis(masked, idx[:, None], axis=1)[:, 0])
                for j, feature in enumerate(self.features):
                    hit = np.flatnonzero(valid & (idx == j))
                    if hit.size:
                        column[hit] = self._describe(feature, rows.prepared[feature].to_numpy()[hit])
            out[f"reason_{r + 1}"] = column
        return pd.DataFrame(out, index=pd.RangeIndex(n), dtype=object)  # object: keep None (pandas 3 infers str)

    def _describe(self, feature: str, values: np.ndarray) -> np.ndarray:
        ref = self.reference[feature]
        label = self.reference_label
        if feature in self.spec.categorical:
            uniq, inverse = np.unique(values.astype(str), return_inverse=True)
            shown = {MISSING_CATEGORY: "missing"}
            texts = [
                f"{feature} = {shown.get(v, v)}" + ("" if v == ref else f" ({label} {shown.get(ref, ref)})")
                for v in uniq
            ]
        else:
            uniq, inverse = np.unique(_display_round(values.astype(np.float64)), return_inverse=True)
            ref_shown = _fmt(float(ref))
            texts = []
            for v in uniq:
                if math.isnan(v):
                    texts.append(f"{feature} missing ({label} {ref_shown})")
                elif _fmt(v) == ref_shown:
                    texts.append(f"{feature} = {ref_shown}")
                else:
                    direction = "high" if v > ref else "low"
                    texts.append(f"{feature} {direction} ({_fmt(v)} vs {label} {ref_shown})")
        return np.asarray(texts, dtype=object)[inverse.reshape(-1)]


def _fmt(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "missing"
    if value.is_integer() and abs(value) < 1e15:
        return str(round(value))
    magnitude = abs(value)
    return f"{value:.0f}" if magnitude >= 100 else f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"


def _display_round(values: np.ndarray) -> np.ndarray:
    """Round to the precision :func:`_fmt` shows, so reason strings are built once per displayed value."""
    magnitude = np.abs(values)
    return np.where(
        magnitude >= 100,
        np.round(values),
        np.where(magnitude >= 10, np.round(values, 1), np.round(values, 2)),
    )
