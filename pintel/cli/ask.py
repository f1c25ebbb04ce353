"""`pintel ask`: questions about the product's metrics, answered from the governed catalog."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("ask")
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object (the answer contract).")
@click.option("--warehouse", type=click.Path(path_type=Path), help="DuckDB file (default $PINTEL_WAREHOUSE).")
@click.option("--manifest", type=click.Path(path_type=Path), help="dbt semantic_manifest.json (default: the build's).")
@click.option("--warm", is_flag=True, help="Compile every metric's common query shapes now (MetricFlow), then exit.")
def ask_cmd(question: str | None, as_json: bool, warehouse: Path | None, manifest: Path | None, warm: bool) -> None:
    """Answer a question about the product's metrics, e.g. "weekly actives by platform last week"."""
    import os

    if warm:
        from pintel.ask import warm as warm_shapes

        click.echo(f"compiled {warm_shapes(warehouse, manifest)} new query shapes")
        return
    if not question:
        raise click.UsageError("ask needs a QUESTION (or --warm)")
    from pintel.ask import ask

    result = ask(question, warehouse, manifest=manifest, llm=os.environ.get("PINTEL_LLM") or None)
    if as_json:
        click.echo(json.dumps(result.to_dict(), default=str))
    else:
        click.echo(result.explanation)
    if result.status != "answered":
        raise SystemExit(2)
