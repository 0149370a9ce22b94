"""``python -m mm_gym.news --report``: the bank's figures (see :mod:`mm_gym.news.report`)."""

import sys

from mm_gym.news.report import main

if __name__ == "__main__":
    sys.exit(main())
