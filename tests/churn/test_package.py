"""pintel.churn loads its public names on first use: each is what its module defines, and the server stays light."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import pintel.churn


def test_every_public_name_is_the_object_its_module_defines_after_every_submodule_is_imported() -> None:
    # importing a submodule binds its name on the package, so a public name equal to a module name would turn
    # into that module (``from pintel.churn import score`` giving the module): none may share one
    submodules = [info.name for info in pkgutil.iter_modules(pintel.churn.__path__)]
    for name in submodules:
        importlib.import_module(f"pintel.churn.{name}")
    assert not set(pintel.churn.__all__) & set(submodules)
    for name in pintel.churn.__all__:
        value = getattr(pintel.churn, name)
        assert not isinstance(value, types.ModuleType), name
    assert pintel.churn.score.__module__ == "pintel.churn.scoring"


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    try:
        pintel.churn.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("pintel.churn.no_such_name resolved")


def test_the_http_server_starts_without_scikit_learn() -> None:
    """``pintel serve`` reads the served churn table (pintel.churn.served) and never trains or scores a model."""
    probe = (
        "import sys, pintel.serve.app, pintel.churn; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'dbt', 'dagster', 'slack_sdk'}), "
        "'train_models' in dir(pintel.churn))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # the names not loaded yet are still listed (tab completion, help()), without loading them
    assert done.stdout.strip() == "[] True", done.stdout
