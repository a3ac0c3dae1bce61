"""spark-submit entrypoint: build the silver tables from new bronze batches.

    spark-submit --packages <fin360 package --list> --py-files fin360.zip \
        jobs/silver.py --env cluster

Same code path as ``fin360 run silver``: arguments -> config -> one session -> run.
"""

import sys

from fin360.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "silver", *sys.argv[1:]]))
