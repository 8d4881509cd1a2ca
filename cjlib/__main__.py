"""``python -m cjlib``: the command line (:func:`cjlib.cli.main`)."""

import sys

from cjlib.cli import main

if __name__ == "__main__":
    sys.exit(main())
