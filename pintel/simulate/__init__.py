"""A SaaS product simulator with planted ground truth: pintel's test bench and demo data."""

from __future__ import annotations

from pathlib import Path

from pintel.simulate.actions import Actions, ActionsError, load_actions
from pintel.simulate.config import DEFECT_REASONS, DRIFTS, SimConfig


def simulate(
    cfg: SimConfig, out_dir: str | Path, progress: bool = False, actions: Actions | str | Path | None = None
) -> dict:
    """Simulate ``cfg`` into ``out_dir`` (events/, identifies/, ground_truth/) and return the manifest.

    ``actions`` (an :class:`Actions` or the path of an actions file) replays the same seed with pintel's flag
    changes and retention plays applied (see :mod:`pintel.simulate.actions`).
    """
    from pintel.simulate.engine import Simulation

    if actions is not None and not isinstance(actions, Actions):
        actions = load_actions(actions, cfg)
    return Simulation(cfg, Path(out_dir), actions).run(progress=progress)


__all__ = ["DEFECT_REASONS", "DRIFTS", "Actions", "ActionsError", "SimConfig", "load_actions", "simulate"]
