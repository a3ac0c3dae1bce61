"""spark-submit entrypoint: forget customers (right to be forgotten) in every table and version.

    spark-submit --packages <fin360 package --list> --py-files fin360.zip \
        jobs/forget.py --env cluster --file requests.txt

Same code path as ``fin360 forget``. Run it while no other fin360 job writes the lakehouse,
for example as the first step of the day, before bronze.
"""

import sys

from fin360.cli import main

if __name__ == "__main__":
    sys.exit(main(["forget", *sys.argv[1:]]))
