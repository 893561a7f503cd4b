"""`python -m live_style`."""

import sys

from live_style.cli import main

sys.exit(main())
