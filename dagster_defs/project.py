"""The dbt project as Dagster sees it, with its manifest prepared before definitions load."""

import os

from dagster_dbt import DbtProject

from pintel.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def ensure_manifest() -> None:
    """``dbt parse`` when no manifest exists (``prepare_if_dev`` only acts under ``dagster dev``)."""
    dbt_project.prepare_if_dev()
    if dbt_project.manifest_path.exists():
        return
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    result = dbtRunner().invoke(
        [
            "--quiet",
            "parse",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(dbt_project.target_path),
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt parse failed while preparing the manifest: {result.exception}")


ensure_manifest()
