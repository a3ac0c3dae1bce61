"""spark-submit entrypoint: the whole chain in one application, then its summary and report.

    spark-submit --packages <fin360 package --list> --py-files fin360.zip \
        jobs/all.py --env cluster --as-of 2025-06-30 [--no-train]

Same code path as ``fin360 run all``. With ``--no-train`` it is the daily run between
retrainings (bronze, silver, gold, score, report): one driver and one set of executors for the
day instead of one per job.
"""

import sys

from fin360.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "all", *sys.argv[1:]]))
