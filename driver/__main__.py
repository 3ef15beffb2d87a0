"""``python -m driver``: the same as the ``vmsnap-driver`` console script."""

import sys

from driver.cli import main

sys.exit(main())
