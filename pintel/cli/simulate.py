"""`pintel simulate`: the test bench and demo data, with planted ground truth."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import date
from pathlib import Path

import click

from pintel.simulate.config import DRIFTS


@click.command("simulate")
@click.option("--users", default=5000, show_default=True, type=int, help="Number of users.")
@click.option("--days", default=90, show_default=True, type=int, help="Length of the window in days.")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed (same seed, same bytes).")
@click.option("--start", default="2025-01-06", show_default=True, help="First day of the window (YYYY-MM-DD).")
@click.option("--out", "out", default="data/landing", show_default=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="parquet", show_default=True, type=click.Choice(["parquet", "jsonl"]))
@click.option("--defect-rate", default=0.005, show_default=True, type=float, help="Share of defective messages.")
@click.option(
    "--srm-loss",
    default=0.0,
    show_default=True,
    type=float,
    help="Plant a sample-ratio mismatch: share of treatment exposures lost.",
)
@click.option(
    "--causal-setting",
    default="observed",
    show_default=True,
    type=click.Choice(["observed", "unobserved"]),
    help="'unobserved' adds a confounder no adjustment can see (flagged in the manifest).",
)
@click.option("--no-incidents", is_flag=True, help="Do not plant metric incidents.")
@click.option(
    "--oracle-draws",
    default=32,
    show_default=True,
    type=int,
    help="Monte Carlo paths per user for the churn oracle (0 = skip the oracle).",
)
@click.option(
    "--actions",
    "actions_path",
    type=click.Path(path_type=Path),
    help="Replay the same seed with pintel's actions applied: flag changes and retention plays (JSON/YAML, "
    "or a CSV/Parquet list of plays).",
)
@click.option(
    "--drift",
    multiple=True,
    type=click.Choice([*DRIFTS, "all"]),
    help="Plant non-stationarity (repeatable): price_change doubles the free plan's churn hazard from --drift-day; "
    "persona_shift moves the persona mix of new signups over the window.",
)
@click.option("--drift-day", type=int, help="Day index the price change starts (default: mid-window).")
@click.option("--stream", is_flag=True, help="Release the batches one arrival hour at a time.")
@click.option("--speed", default=2.0, show_default=True, type=float, help="Seconds between batches with --stream.")
@click.option("--overwrite", is_flag=True, help="Replace an existing simulation in --out.")
def simulate_cmd(
    users,
    days,
    seed,
    start,
    out,
    fmt,
    defect_rate,
    srm_loss,
    causal_setting,
    no_incidents,
    oracle_draws,
    actions_path,
    drift,
    drift_day,
    stream,
    speed,
    overwrite,
) -> None:
    """Simulate a SaaS product's events with planted ground truth."""
    from pintel.simulate import ActionsError, SimConfig, load_actions, simulate

    drifts = tuple(DRIFTS) if "all" in drift else tuple(d for d in DRIFTS if d in drift)
    try:
        cfg = SimConfig(
            users=users,
            days=days,
            seed=seed,
            start=date.fromisoformat(start),
            fmt=fmt,
            defect_rate=defect_rate,
            srm_loss=srm_loss,
            causal_setting=causal_setting,
            incidents=not no_incidents,
            oracle_draws=oracle_draws,
            drift=drifts,
            drift_day=drift_day,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    actions = None
    if actions_path is not None:
        try:
            actions = load_actions(actions_path, cfg)  # validated before anything is written
        except ActionsError as exc:
            raise click.BadParameter(str(exc), param_hint="--actions") from exc
    existing = [p for p in ("events", "identifies", "ground_truth") if (out / p).exists()]
    if existing and not overwrite:
        raise click.ClickException(
            f"{out} already holds a simulation ({', '.join(existing)}); pass --overwrite or choose another --out"
        )
    for name in existing:
        shutil.rmtree(out / name)
    target = out / ".staging" if stream else out
    manifest = simulate(cfg, target, progress=sys.stderr.isatty(), actions=actions)
    if stream:
        from pintel.simulate.stream import release

        shutil.copytree(target / "ground_truth", out / "ground_truth", dirs_exist_ok=True)
        shutil.rmtree(target / "ground_truth")
        released = release(target, out, speed, on_batch=lambda key: click.echo(f"released {key}"))
        click.echo(f"streamed {released} hourly batches into {out}")
    counts = manifest["counts"]
    click.echo(
        f"wrote {counts['messages_written']:,} messages ({counts['valid_events']:,} valid) for {users:,} users "
        f"over {days} days to {out}"
    )
    click.echo(json.dumps(manifest["realised"], indent=2))
