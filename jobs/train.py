"""spark-submit entrypoint: train every model family in MLflow, then promote the better ones.

    spark-submit --packages <fin360 package --list> --py-files fin360.zip \
        jobs/train.py --env cluster --as-of 2025-06-30

Same code path as ``fin360 run train``: arguments -> config -> one session -> run.
"""

import sys

from fin360.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "train", *sys.argv[1:]]))
