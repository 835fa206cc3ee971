"""``python -m gradkit``: the same program as the ``gradkit`` command (see :mod:`gradkit.cli`)."""

import sys

from gradkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
