import sys

from cjlib.cli import main

sys.exit(main())
