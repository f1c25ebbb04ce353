"""The dbt project as assets: dbt models become assets, dbt tests become asset checks.

Two selections: the warehouse (seeds, staging, intermediate, marts) and the ML models, so the Great
Expectations gates on the marts can block the ML models from materialising on bad data.
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from dagster_defs.project import dbt_project
from dagster_defs.resources import PintelResource
from pintel.build import production_args

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
    yield from dbt.cli(args, context=context).stream()


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
        yield from dbt.cli(["build", *production_args(), *pintel.dbt_args()], context=context).stream()

    DBT_ASSETS.append(ml_dbt_assets)
