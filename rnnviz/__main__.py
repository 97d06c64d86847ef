"""``python -m rnnviz``: the command line (its help and errors name the command so)."""

import sys

from rnnviz.cli import main

sys.exit(main(prog="python -m rnnviz"))
