"""The dbt project as assets: dbt models become assets, dbt tests become asset checks.

Two selections: the warehouse (seeds, staging, intermediate, marts) and the ML models, so the Great
Expectations gates on the marts can block the ML models from materialising on bad data.
"""

import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from dagster_defs.project import dbt_project
from dagster_defs.resources import PintelResource
from pintel.build import dbt_target_dir, production_args

ML_SELECT = "path:models/ml"


class PintelTranslator(DagsterDbtTranslator):
    """dbt sources map onto the ingestion asset keys (raw/<table>); models keep schema/name keys."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "seeds"


TRANSLATOR = PintelTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def source_tables() -> list[str]:
    """The dbt source tables that declare freshness (each is a raw/<table> asset), from the manifest."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return sorted(
        source["name"]
        for source in manifest["sources"].values()
        if (source.get("freshness") or {}).get("error_after", {}).get("count") is not None
    )


PARTIAL_PARSE = "partial_parse.msgpack"


def _dbt(context: AssetExecutionContext, dbt: DbtCliResource, pintel: PintelResource, args: list[str]) -> Iterator:
    """``dbt <args>`` in a target folder of its own, starting from the warehouse's partial-parse state.

    dagster-dbt gives each invocation a fresh target folder and seeds it with the project's
    ``target/partial_parse.msgpack``, which was parsed with the project's default vars; a run passes the
    warehouse path and the configured vars (``--vars``), so dbt found the state changed and parsed the whole
    project again -- ~5 CPU s for every dbt step of every run. The state is kept per warehouse instead, where
    ``pintel build`` keeps it (:func:`pintel.build.dbt_target_dir`): seeded from there, and the invocation's
    state put back (replaced atomically, so a concurrent step reads a whole file). dbt still checks the state and
    parses in full when anything it depends on changed, so a stale file costs only that parse.
    """
    shared = dbt_target_dir(pintel.settings()) / PARTIAL_PARSE
    target = dbt_project.target_path / f"{context.run_id[:8]}-{uuid.uuid4().hex[:8]}"
    target.mkdir(parents=True, exist_ok=True)
    if shared.exists():
        shutil.copyfile(shared, target / PARTIAL_PARSE)
    yield from dbt.cli(args, context=context, target_path=target).stream()
    produced = target / PARTIAL_PARSE
    if produced.exists():
        shared.parent.mkdir(parents=True, exist_ok=True)
        staged = shared.with_name(f"{PARTIAL_PARSE}.{uuid.uuid4().hex[:8]}")
        shutil.copyfile(produced, staged)
        os.replace(staged, shared)


def _has_ml_models() -> bool:
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return any(
        node.get("resource_type") == "model" and node.get("original_file_path", "").startswith("models/ml/")
        for node in manifest["nodes"].values()
    )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=ML_SELECT,
    dagster_dbt_translator=TRANSLATOR,
    name="warehouse",
)
def warehouse_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource, pintel: PintelResource):
    """``dbt build`` of the warehouse: seeds, staging, intermediate and marts with their data tests (dbt's unit
    tests are for development and CI: :func:`pintel.build.production_args`)."""
    args = ["build", *production_args(), "--indirect-selection", "cautious", *pintel.dbt_args()]
    yield from _dbt(context, dbt, pintel, args)


DBT_ASSETS: list[dg.AssetsDefinition] = [warehouse_dbt_assets]

if _has_ml_models():

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        select=ML_SELECT,
        dagster_dbt_translator=TRANSLATOR,
        name="ml_models",
    )
    def ml_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource, pintel: PintelResource):
        """``dbt build`` of the ML models (thin dbt Python models calling pintel) and their contracts."""
        yield from _dbt(context, dbt, pintel, ["build", *production_args(), *pintel.dbt_args()])

    DBT_ASSETS.append(ml_dbt_assets)
