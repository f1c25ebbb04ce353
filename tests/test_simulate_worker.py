"""The churn oracle's worker process: the bytes of the in-process oracle; a dead or stuck worker fails the run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from pintel.simulate import SimConfig, engine, simulate
from pintel.simulate.engine import Simulation
from pintel.simulate.oracle import oracle_job
from pintel.simulate.worker import OracleProcess

# Far below the threshold, which the first test forces to 0: its weekly snapshots go through the worker.
CFG = SimConfig(users=300, days=40, seed=5)


def _checksums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def test_the_worker_process_writes_the_same_files_as_the_in_process_oracle(tmp_path: Path, monkeypatch) -> None:
    simulate(CFG, tmp_path / "inline")
    monkeypatch.setattr(engine, "ORACLE_PROCESS_FROM", 0)
    # Started beside another ``pintel`` folder, the worker still imports this package (``python -P``).
    decoy = tmp_path / "decoy" / "pintel"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text('raise ImportError("the decoy package, not the simulator")\n')
    monkeypatch.chdir(decoy.parent)
    simulate(CFG, tmp_path / "worker")
    inline, worker = _checksums(tmp_path / "inline"), _checksums(tmp_path / "worker")
    assert any("churn_snapshots" in name for name in inline)
    assert inline and inline == worker


def test_a_dead_worker_fails_with_an_error_naming_it(tmp_path: Path) -> None:
    sim = Simulation(CFG, tmp_path)
    rows = np.arange(50)
    sim.world.init_rows(sim.state, rows, np.random.default_rng(0))
    job = oracle_job(sim.state, rows, 0, 30, 4, np.random.default_rng(1))
    oracle = OracleProcess(sim.world)
    prob, _ = oracle.submit(job).result(timeout=60)
    assert prob.shape == (50,)
    oracle._proc.kill()
    with pytest.raises(RuntimeError, match=r"churn oracle worker .* exited with code -9"):
        oracle.submit(job).result(timeout=60)
    oracle.shutdown()


def test_a_failing_job_reports_the_workers_traceback(tmp_path: Path) -> None:
    sim = Simulation(CFG, tmp_path)
    rows = np.arange(50)
    sim.world.init_rows(sim.state, rows, np.random.default_rng(0))
    job = oracle_job(sim.state, rows, 0, 30, 4, np.random.default_rng(1))
    job.horizon = None  # type: ignore[assignment]  # no horizon to step through: the paths raise
    oracle = OracleProcess(sim.world)
    with pytest.raises(RuntimeError, match=r"(?s)churn oracle worker .* a job failed.*Traceback"):
        oracle.submit(job).result(timeout=60)
    oracle.shutdown()


def test_a_stuck_worker_is_killed_and_fails_the_run_saying_so(tmp_path: Path) -> None:
    from tests.support.stuck_job import StuckJob

    sim = Simulation(CFG, tmp_path)
    rows = np.arange(50)
    sim.world.init_rows(sim.state, rows, np.random.default_rng(0))
    job = oracle_job(sim.state, rows, 0, 30, 4, np.random.default_rng(1))
    oracle = OracleProcess(sim.world, stall_seconds=2)
    prob, _ = oracle.submit(job).result(timeout=60)  # an answer in time: no kill
    assert prob.shape == (50,)
    stuck = oracle.submit(StuckJob())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match=r"churn oracle worker .* killed after 2 s without an answer"):
        stuck.result(timeout=60)
    with pytest.raises(RuntimeError, match="stuck job"):
        oracle.submit(job)
    oracle.shutdown()
