"""`python -m fusiondp` runs the command-line interface."""

from fusiondp.cli.app import main

# Guarded: processes started by `fusiondp train --nproc` (multiprocessing spawn) re-import this module.
if __name__ == "__main__":
    main()
