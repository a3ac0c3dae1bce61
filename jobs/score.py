"""spark-submit entrypoint: score customers and transactions with the champion models.

    spark-submit --packages <fin360 package --list> --py-files fin360.zip \
        jobs/score.py --env cluster --as-of 2025-06-30

Same code path as ``fin360 run score``: arguments -> config -> one session -> run.
"""

import sys

from fin360.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "score", *sys.argv[1:]]))
