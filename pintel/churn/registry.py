"""Model persistence and the registry rows that ``ml_model_registry`` stores.

A fitted model travels as a compressed joblib BLOB next to the metadata needed to audit it (hash, windows,
features, params), so a prediction made months ago can be reproduced from the row that made it.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterable
from typing import Any

import joblib
import pandas as pd
import sklearn

from pintel.churn.model import ChurnModel

__all__ = [
    "REGISTRY_COLUMNS",
    "dump_model",
    "latest_registry",
    "load_model",
    "load_model_from_registry",
    "registry_frame",
    "registry_row",
]

REGISTRY_COLUMNS = ["version", "model_hash", "trained_at", "train_start", "train_end", "features", "params"]


def dump_model(model: ChurnModel) -> bytes:
    """Serialise a model to bytes (joblib, compressed): storable in a BLOB column or a file.

    Pickle-based: load only blobs your own pipeline wrote, with the same scikit-learn version
    (``params["sklearn_version"]``).
    """
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def load_model(blob: bytes | bytearray | memoryview) -> ChurnModel:
    """Inverse of :func:`dump_model`; warns when the scikit-learn version differs from training time."""
    model = joblib.load(io.BytesIO(bytes(blob)))
    if not isinstance(model, ChurnModel):
        raise TypeError(f"blob holds a {type(model).__name__}, not a ChurnModel")
    trained_with = model.params.get("sklearn_version")
    if trained_with != sklearn.__version__:
        warnings.warn(
            f"model {model.version}/{model.model_hash[:12]} was trained with scikit-learn {trained_with}, "
            f"loading under {sklearn.__version__}; retrain if predictions look off",
            UserWarning,
            stacklevel=2,
        )
    return model


def registry_row(model: ChurnModel, *, include_blob: bool = False) -> dict[str, Any]:
    """One :data:`REGISTRY_COLUMNS` row for ``model`` (+ ``model_blob`` bytes if asked)."""
    row: dict[str, Any] = {
        "version": model.version,
        "model_hash": model.model_hash,
        "trained_at": model.trained_at,
        "train_start": model.train_start,
        "train_end": model.train_end,
        "features": json.dumps(model.features),
        "params": json.dumps(model.params, sort_keys=True, default=str),
    }
    if include_blob:
        row["model_blob"] = dump_model(model)
    return row


def registry_frame(models: Iterable[ChurnModel], *, include_blob: bool = False) -> pd.DataFrame:
    """:func:`registry_row` of each model, in order, with exactly :data:`REGISTRY_COLUMNS` (+ ``model_blob``)."""
    rows = [registry_row(m, include_blob=include_blob) for m in models]
    columns = REGISTRY_COLUMNS + (["model_blob"] if include_blob else [])
    return pd.DataFrame(rows, columns=columns)


def latest_registry(registry: pd.DataFrame) -> pd.DataFrame:
    """The most recently trained row per version (ties broken by hash, so the choice is deterministic)."""
    if registry.empty:
        return registry
    ordered = registry.sort_values(["version", "trained_at", "model_hash"], kind="mergesort")
    return ordered.groupby("version", sort=True).tail(1).reset_index(drop=True)


def load_model_from_registry(registry: pd.DataFrame, version: str, model_hash: str | None = None) -> ChurnModel:
    """Load ``version`` (optionally an exact ``model_hash``) from registry rows that include ``model_blob``
    (``TrainedModels.registry_rows(include_blob=True)``); the most recent ``trained_at`` wins."""
    if "model_blob" not in registry.columns:
        raise ValueError("registry has no model_blob column; write it with registry_rows(include_blob=True)")
    rows = registry[registry["version"] == version]
    if model_hash is not None:
        rows = rows[rows["model_hash"] == model_hash]
    if rows.empty:
        raise LookupError(f"no registered model for version={version!r} model_hash={model_hash!r}")
    latest = rows.sort_values("trained_at", kind="mergesort").iloc[-1]
    return load_model(latest["model_blob"])
