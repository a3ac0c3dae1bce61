"""spark-submit entrypoint: customer-360 features for one date and the credit-risk training set.

    spark-submit --packages <fin360 package --list> --py-files fin360.zip \
        jobs/gold.py --env cluster --as-of 2025-06-30

Same code path as ``fin360 run gold``: arguments -> config -> one session -> run.
"""

import sys

from fin360.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "gold", *sys.argv[1:]]))
