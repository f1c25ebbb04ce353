"""Resources: where pintel's data lives (:class:`pintel.settings.Settings`) and the dbt CLI that builds it.

Settings are read from the ``PINTEL_*`` environment variables (see .env.example) unless the resource is
configured explicitly; nothing here writes ``os.environ``. The dbt subprocess gets the warehouse path and the
reports folder as ``--vars`` on its command line (:meth:`PintelResource.dbt_args`).
"""

import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_defs.project import dbt_project
from pintel.settings import Settings


class PintelResource(dg.ConfigurableResource):
    """Where pintel's data lives and the dbt vars of its runs; an empty field falls back to its ``PINTEL_*``
    environment variable (``dbt_vars``: ``$PINTEL_DBT_VARS``, YAML or JSON like dbt's ``--vars``)."""

    warehouse: str = ""
    landing: str = ""
    reports: str = ""
    dbt_vars: str = ""

    def settings(self) -> Settings:
        return Settings.from_env(
            warehouse=self.warehouse or None,
            landing=self.landing or None,
            reports=self.reports or None,
            dbt_vars=self.dbt_vars or None,
        )

    def dbt_args(self) -> list[str]:
        """``--vars`` for a dbt command: the configured vars plus the warehouse and reports paths dbt must use."""
        return self.settings().dbt_vars_arg()


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
        target=Settings.from_env().dbt_target,
        dbt_executable=executable,
    )


RESOURCES = {"pintel": PintelResource(), "dbt": dbt_resource()}
