"""The dbt project as Dagster sees it, with its manifest prepared before definitions load."""

from dagster_dbt import DbtProject
from filelock import FileLock

from pintel.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _stale() -> bool:
    """True when the manifest is missing or older than any file dbt reads to build it."""
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", *DBT_PROJECT_DIR.parent.joinpath("seeds").glob("*")]
    for folder in ("models", "macros", "tests", "snapshots"):
        sources += (DBT_PROJECT_DIR / folder).rglob("*")
    return any(path.is_file() and path.stat().st_mtime > built for path in sources)


def ensure_manifest() -> None:
    """``dbt parse`` when the manifest is missing or stale (``prepare_if_dev`` only acts under ``dagster dev``).

    Under a file lock: processes that load the code location at once (pytest-xdist workers, Dagster's run
    workers) would otherwise parse together, and one could read the manifest while another writes it.
    """
    dbt_project.prepare_if_dev()
    dbt_project.target_path.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dbt_project.target_path / ".manifest.lock")):
        if not _stale():
            return
        from dbt.cli.main import dbtRunner

        result = dbtRunner().invoke(
            [
                "--quiet",
                "parse",
                "--no-send-anonymous-usage-stats",
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
