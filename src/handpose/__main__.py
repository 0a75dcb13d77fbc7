"""`python -m handpose ...` (and `torchrun -m handpose ...`) runs the command-line interface."""

import sys

from handpose.cli import main

if __name__ == "__main__":
    sys.exit(main())
