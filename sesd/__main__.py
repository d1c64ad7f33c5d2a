"""``python -m sesd``."""

import sys

from sesd.cli import main

sys.exit(main())
