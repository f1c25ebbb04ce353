"""Resources, configured from environment variables (see .env.example)."""

import os
import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_defs.project import dbt_project
from pintel.settings import Settings


class PintelResource(dg.ConfigurableResource):
    """Where pintel's data lives; every field defaults to the PINTEL_* environment variables."""

    warehouse: str = ""
    landing: str = ""

    def settings(self) -> Settings:
        settings = Settings.from_env(warehouse=self.warehouse or None, landing=self.landing or None)
        # dbt's profile reads the same variable; set it for the dbt subprocess.
        os.environ["PINTEL_WAREHOUSE"] = str(settings.warehouse)
        os.environ["PINTEL_REPORTS"] = str(settings.reports)
        return settings


def dbt_resource() -> DbtCliResource:
    """dbt from this interpreter's environment (DbtCliResource only looks on PATH otherwise)."""
    import dbt.cli

    # The venv that holds dbt-core, whichever interpreter path the code server was started with.
    venv_of_dbt = Path(dbt.cli.__file__).resolve().parents[5]
    candidates = [Path(sys.prefix) / "bin" / "dbt", Path(sys.executable).parent / "dbt", venv_of_dbt / "bin" / "dbt"]
    found = shutil.which("dbt")
    executable = next((str(c) for c in candidates if c.exists()), found or "dbt")
    return DbtCliResource(
        project_dir=dbt_project,
        profiles_dir=str(dbt_project.profiles_dir),
        target=os.environ.get("PINTEL_DBT_TARGET", "duckdb"),
        dbt_executable=executable,
    )


RESOURCES = {"pintel": PintelResource(), "dbt": dbt_resource()}
