"""`python -m codemods` is `tinyckpt-migrate`."""

import sys

from codemods.cli import main

sys.exit(main())
