"""``python -m sesd``."""

import sys

from sesd.commands.main import main

sys.exit(main())
