"""``python -m mm_gym.realism``: the realism report (see :mod:`mm_gym.realism.report`)."""

import sys

from mm_gym.realism.report import main

if __name__ == "__main__":
    sys.exit(main())
