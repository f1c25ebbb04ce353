"""Landing folders the way production sees them: a simulation's batches copied in by arrival day.

A simulated landing holds every batch at once. Incremental builds need the warehouse "as of" an earlier day
first, then the batches that arrived after it; :func:`copy_landing` copies the batch files of a landing whose
``date=YYYY-MM-DD`` partition passes a filter, skipping files already there, so calling it again with a later
window lands exactly the new batches.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

BATCH_KINDS: tuple[str, ...] = ("events", "identifies")
"""The landing sub-folders that hold hourly batches partitioned by arrival day."""


def batch_day(path: Path, root: Path) -> str:
    """The arrival day (``YYYY-MM-DD``) of a batch file from its ``date=`` partition folder."""
    partition = next(part for part in path.relative_to(root).parts if part.startswith("date="))
    return partition.removeprefix("date=")


def manifest_of(landing: Path) -> dict:
    """The simulator's ground-truth manifest of a landing folder."""
    return json.loads((landing / "ground_truth" / "manifest.json").read_text())


def landing_days(landing: Path, kind: str = "events") -> list[str]:
    """Every arrival day of a landing's ``kind`` batches, in order."""
    return sorted({batch_day(path, landing) for path in (landing / kind).rglob("*.parquet")})


def copy_landing(
    full: Path,
    landing: Path,
    *,
    before: str | None = None,
    since: str | None = None,
    kinds: Sequence[str] = BATCH_KINDS,
    ground_truth: bool = False,
) -> int:
    """Copy the batches of ``full`` that arrived in ``[since, before)`` into ``landing``; return how many.

    Either bound may be omitted. Files already in ``landing`` are left alone, so a second call with the held-back
    window lands exactly the batches that were held back. ``ground_truth`` also copies the simulator's truth folder
    (the evaluation-only tables the loader lands beside the batches).
    """
    copied = 0
    for kind in kinds:
        for src in sorted((full / kind).rglob("*.parquet")):
            day = batch_day(src, full)
            if (before is not None and day >= before) or (since is not None and day < since):
                continue
            dst = landing / src.relative_to(full)
            if dst.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            copied += 1
    if ground_truth and (full / "ground_truth").exists():
        shutil.copytree(full / "ground_truth", landing / "ground_truth", dirs_exist_ok=True)
    return copied
