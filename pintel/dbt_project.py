"""The dbt project as Python sees it: where it lives and the values of its vars.

A rule the SQL applies (how far a timestamp may run ahead of receipt, the earliest plausible event time, the
churn horizon) is a dbt var, declared once in ``dbt_project/dbt_project.yml``. Python code that must apply
the same rule — a Great Expectations gate, a model evaluation — reads it here instead of repeating it as a
constant, so changing the var (in the file, or for one run with ``--vars``) changes both sides together.

The values are read the way dbt resolves them for the root project: global ``vars:`` first, then the ones
scoped to the project (``vars: {pintel: {...}}``), then the run's ``--vars`` overrides on top. Only plain
YAML values are supported: a var whose value is Jinja (``"{{ env_var(...) }}"``) is reported, not guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
PROJECT_NAME = "pintel"


@cache
def _declared(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "dbt_project.yml"
    try:
        project = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"dbt project file {path} not found") from None
    declared = dict(project.get("vars") or {})
    scoped = declared.pop(project.get("name", PROJECT_NAME), None)
    if isinstance(scoped, Mapping):  # vars scoped to this project override global ones, as in dbt
        declared.update(scoped)
    return declared


def parse_vars(text: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A ``--vars`` value (a YAML or JSON mapping, as dbt accepts it) as a dict; empty for ``None`` or ``""``."""
    if text is None or isinstance(text, Mapping):
        return dict(text or {})
    if not text.strip():
        return {}
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"dbt vars {text!r} are not valid YAML/JSON: {error}") from None
    if not isinstance(parsed, Mapping):
        raise ValueError(f"dbt vars must be a mapping such as '{{future_tolerance_minutes: 120}}', got {text!r}")
    return dict(parsed)


def project_vars(overrides: Mapping[str, Any] | None = None, project_dir: Path = DBT_PROJECT_DIR) -> dict[str, Any]:
    """Every var of the dbt project with ``overrides`` (a run's ``--vars``) applied on top."""
    return {**_declared(Path(project_dir)), **dict(overrides or {})}


def project_var(name: str, overrides: Mapping[str, Any] | None = None, project_dir: Path = DBT_PROJECT_DIR) -> Any:
    """One var of the dbt project (with a run's overrides); a clear error when it is not declared."""
    values = project_vars(overrides, project_dir)
    if name not in values:
        raise KeyError(f"dbt var {name!r} is not declared in {Path(project_dir) / 'dbt_project.yml'}")
    value = values[name]
    if isinstance(value, str) and "{{" in value:
        raise ValueError(f"dbt var {name!r} is a Jinja expression ({value!r}); pass its value with --vars")
    return value
