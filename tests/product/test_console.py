"""Console output written to a file or pipe keeps whole lines (no breaks at 80 columns)."""

import io

from rich.table import Table

from fusiondp.cli._console import WIDE, CliConsole


def test_long_message_is_one_line_when_redirected():
    buf = io.StringIO()
    msg = "fusiondp: ε = 1.9987 (target 2), δ = 1e-05, remove relation, " + "x" * 60 + " dp-accounting 0.6.0 PLD"
    CliConsole(file=buf).print(msg)
    assert buf.getvalue() == msg + "\n"


def test_tables_are_laid_out_wide_when_redirected():
    buf = io.StringIO()
    t = Table()
    for i in range(9):
        t.add_column(f"column number {i}")
    t.add_row(*[f"value {i} of the row" for i in range(9)])
    con = CliConsole(file=buf)
    con.print(t)
    assert con.width >= WIDE
    assert any("value 8 of the row" in line and "value 0 of the row" in line for line in buf.getvalue().splitlines())


def test_explicit_width_wins():
    assert CliConsole(file=io.StringIO(), width=60).width == 60


def test_every_command_prints_through_the_cli_console():
    from fusiondp.cli import app as app_module
    from fusiondp.cli import audit_cmd, demo_cmd, impute_cmd, predict_cmd, report_cmd, train_cmd

    assert isinstance(app_module.err, CliConsole)
    for module in (train_cmd, audit_cmd, demo_cmd, impute_cmd, predict_cmd, report_cmd):
        assert isinstance(module.out, CliConsole), module.__name__
