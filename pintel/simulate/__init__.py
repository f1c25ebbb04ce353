"""A SaaS product simulator with planted ground truth: pintel's test bench and demo data."""

from __future__ import annotations

from pathlib import Path

from pintel.simulate.config import DEFECT_REASONS, SimConfig


def simulate(cfg: SimConfig, out_dir: str | Path, progress: bool = False) -> dict:
    """Simulate ``cfg`` into ``out_dir`` (events/, identifies/, ground_truth/) and return the manifest."""
    from pintel.simulate.engine import Simulation

    return Simulation(cfg, Path(out_dir)).run(progress=progress)


__all__ = ["DEFECT_REASONS", "SimConfig", "simulate"]
