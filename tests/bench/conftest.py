"""Fixtures shared by the bench tests: the CLI app, and user tables forgotten after each test."""

import pytest

from fusiondp.bench import registry


@pytest.fixture(autouse=True)
def _forget_user_tables():
    """Tables a test registers (`fusiondp bench --table`) do not leak into the next test."""
    yield
    for name in [n for n, e in registry.DATASETS.items() if e.remake]:
        registry.DATASETS.pop(name)


@pytest.fixture
def app():
    from fusiondp.cli.app import _load_commands, app

    _load_commands()
    return app
