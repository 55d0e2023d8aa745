"""Every docstring example under src/fusiondp runs and shows what it says (issue 24: doctests in CI).

The modules are imported by their package names (as users import them) and each one's examples are run by
the standard library's doctest runner; a failing example fails the test named after its module. A module
whose optional dependency is not installed is skipped, naming the dependency.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import fusiondp

SRC = Path(fusiondp.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(SRC)], "fusiondp.")
                 if ">>> " in (SRC.joinpath(*m.name.split(".")[1:]).with_suffix(".py").read_text(encoding="utf-8")
                               if not m.ispkg else (SRC.joinpath(*m.name.split(".")[1:]) / "__init__.py")
                               .read_text(encoding="utf-8")))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_modules_with_examples_are_found():
    assert {"fusiondp.privacy.accounting", "fusiondp.io", "fusiondp.report.record"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and not e.name.startswith("fusiondp"):
            pytest.skip(f"{name} needs the optional package {e.name!r}")
        raise
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    log = io.StringIO()
    with redirect_stdout(log):
        for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
            runner.run(test, out=log.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed:\n{log.getvalue()}"
