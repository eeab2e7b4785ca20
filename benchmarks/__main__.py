"""``python -m benchmarks [--quick]``: run every benchmark, print the table."""

import sys

from .run import main

sys.exit(main())
