"""v1: standardised L2 logistic regression.

Transparent (exact per-feature log-odds contributions), cheap, and, fitted on plain log-loss without class
re-weighting, its probabilities are close to calibrated as-is (checked, not assumed: ``evaluate`` reports its
ECE next to v2's). It is the model a boosted version has to beat to earn its opacity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from pintel.churn.encoding import column_groups, make_encoder, mode, reference_frame
from pintel.churn.model import ChurnModel, EncodedRows, TrainingContext

__all__ = ["DEFAULT_V1_PARAMS", "LogisticChurnModel"]

DEFAULT_V1_PARAMS: dict[str, Any] = {"C": 1.0, "max_iter": 2_000, "tol": 1e-6}


@dataclass(kw_only=True)
class LogisticChurnModel(ChurnModel):
    """Logistic regression on the imputed, one-hot encoded, standardised features.

    Reasons compare with the training *average* ("avg"): that is the point the exact linear decomposition
    measures every push from.
    """

    reference_label: ClassVar[str] = "avg"

    @classmethod
    def fit(cls, version: str, context: TrainingContext, overrides: Mapping[str, Any] | None = None) -> Self:
        # No class_weight: re-weighting would inflate every probability by the weight ratio.
        spec = context.spec
        lr_params = {**DEFAULT_V1_PARAMS, **(overrides or {}), "random_state": context.seed}
        encoder = make_encoder(spec, impute=True)
        pipeline = Pipeline([("encode", encoder), ("scale", StandardScaler())])
        encoded = pipeline.fit_transform(context.x_train)
        model = LogisticRegression(**lr_params).fit(encoded, context.y_train)
        scaler: StandardScaler = pipeline.named_steps["scale"]
        groups = column_groups(spec, encoder, encoded.shape[1])
        # Reference = what the exact decomposition compares against: the (post-imputation) training mean.
        reference: dict[str, Any] = {c: float(scaler.mean_[groups[i][0]]) for i, c in enumerate(spec.numeric)}
        reference.update({c: mode(context.x_train[c]) for c in spec.categorical})
        params = {
            "estimator": "LogisticRegression",
            "preprocessing": "median impute + missing indicators, one-hot, standardise",
            "calibration": "none (unweighted logistic loss)",
            **{k: v for k, v in lr_params.items() if k != "random_state"},
        }
        calibrate_probability = model.predict_proba(pipeline.transform(context.x_calibrate))[:, 1]
        return cls(
            preprocessor=pipeline,
            estimator=model,
            groups=groups,
            reference=reference,
            reference_encoded=np.asarray(pipeline.transform(reference_frame(spec, reference)))[0],
            **context.provenance(version, params, calibrate_probability),
        )

    def _probability(self, matrix: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(matrix)[:, 1]

    def _contributions(self, rows: EncodedRows) -> np.ndarray:
        # Exact: log-odds = intercept + sum_j coef_j * z_j with z standardised (training mean -> 0), so
        # coef_j * z_j is feature j's push relative to the average training user; dummy and
        # missing-indicator columns are summed back into their feature.
        membership = np.zeros((rows.matrix.shape[1], len(self.groups)))
        for j, cols in enumerate(self.groups):
            membership[cols, j] = 1.0
        return (rows.matrix * self.estimator.coef_[0]) @ membership
