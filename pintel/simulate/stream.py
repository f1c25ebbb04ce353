"""``--stream``: release a simulated dataset one arrival hour at a time, as a live collector would.

The dataset is simulated once into a staging folder; then each hourly batch is moved (atomically, by
rename) into the landing folder every ``speed`` seconds, so a sensor only ever sees complete files.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path


def _batches(staging: Path) -> list[tuple[str, list[Path]]]:
    """Hourly event batches in arrival order, each with the identify batch of its day on the first hour."""
    hours: dict[str, list[Path]] = {}
    for path in sorted((staging / "events").glob("date=*/hour=*/*")):
        key = f"{path.parent.parent.name}/{path.parent.name}"
        hours.setdefault(key, []).append(path)
    for path in sorted((staging / "identifies").glob("date=*/*")):
        day = path.parent.name
        first = next((k for k in sorted(hours) if k.startswith(day)), None)
        hours.setdefault(first or f"{day}/hour=00", []).append(path)
    return sorted(hours.items())


def release(
    staging: Path,
    out: Path,
    speed: float,
    on_batch: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Move every batch from ``staging`` to ``out``, pausing ``speed`` seconds between hours."""
    released = 0
    for key, files in _batches(staging):
        for src in files:
            dst = out / src.relative_to(staging)
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.tmp")
            shutil.move(src, tmp)
            tmp.rename(dst)
        released += 1
        if on_batch:
            on_batch(key)
        sleep(speed)
    shutil.rmtree(staging, ignore_errors=True)
    return released
