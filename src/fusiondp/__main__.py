"""`python -m fusiondp` runs the command-line interface."""

from fusiondp.cli.app import main

main()
