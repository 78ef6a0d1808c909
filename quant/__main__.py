"""``python -m quant``."""

import sys

from quant.cli import main

sys.exit(main())
