"""The rich console every command prints through.

A plain `rich.console.Console` breaks long lines at the terminal width, and at
80 columns when output goes to a file or a pipe: a redirected log then reads
``dp-accounting \\n0.6.0 PLD``. This console never inserts line breaks into
printed messages (`soft_wrap`), and when it is not writing to a terminal it
lays tables out at least `WIDE` columns wide, so a log file holds whole lines.
An explicit ``COLUMNS`` environment variable or ``width=`` still wins.
"""

from __future__ import annotations

from rich.console import Console, ConsoleDimensions

#: Minimum layout width when the output is not a terminal.
WIDE = 200


class CliConsole(Console):
    """A `Console` with soft wrapping, and a wide layout when not attached to a terminal."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("soft_wrap", True)
        super().__init__(**kwargs)

    @property
    def size(self) -> ConsoleDimensions:
        dims = Console.size.fget(self)
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(max(dims.width, WIDE), dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)
