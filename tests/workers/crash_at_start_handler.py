"""A worker that exits before taking any job (a broken image or import error)."""

import sys

sys.exit(3)
