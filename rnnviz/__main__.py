"""``python -m rnnviz``: the command line."""

import sys

from rnnviz.cli import main

sys.exit(main())
