"""``python -m simulator``: the same as the ``vmsnap-simulator`` console script."""

import sys

from simulator.cli import main

sys.exit(main())
