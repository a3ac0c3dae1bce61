"""spark-submit entrypoint: land new raw batches into bronze Delta tables.

    spark-submit --packages <fin360 package --list> --py-files fin360.zip \
        jobs/bronze.py --env cluster [--source card_transactions]

Same code path as ``fin360 run bronze``: arguments -> config -> one session -> run.
"""

import sys

from fin360.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "bronze", *sys.argv[1:]]))
