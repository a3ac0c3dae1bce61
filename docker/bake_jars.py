"""Pick the jars resolved by Spark's Ivy resolver that may go into $SPARK_HOME/jars.

Run at image build time (docker/Dockerfile, stage ``jars``) after
``spark-submit --packages <delta>,<graphframes>`` has resolved the packages and their
dependencies into ``<ivy>/jars``. With ``--packages`` those jars sit behind Spark's own on the
classpath, so Spark's copies always win; in ``$SPARK_HOME/jars`` every jar is on the same
classpath in no defined order. So a resolved jar is baked in only when Spark does not already
ship that artifact (any version) and none of its classes is already in one of Spark's jars:
an older jackson or a RoaringBitmap ``shims`` jar next to Spark's would make class loading
depend on directory order.

Runs on the Spark image's system Python (3.10 on Ubuntu 22.04): standard library only.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import zipfile
from pathlib import Path

# Ivy's retrieve pattern is [organisation]_[artifact]-[revision](-[classifier]).[ext]
_VERSION_SUFFIX = re.compile(r"-\d[^/]*\.jar$")


def artifact_of(jar_name: str, ivy: bool) -> str:
    """``io.delta_delta-spark_4.1_2.13-4.4.0.jar`` -> ``delta-spark_4.1_2.13``."""
    name = jar_name.split("_", 1)[1] if ivy and "_" in jar_name else jar_name
    return _VERSION_SUFFIX.sub("", name)


def classes_of(jar: Path) -> set[str]:
    """Class entries of a jar, multi-release copies folded onto their base name."""
    with zipfile.ZipFile(jar) as archive:
        names = archive.namelist()
    out = set()
    for name in names:
        if not name.endswith(".class") or name.endswith("module-info.class"):
            continue
        if name.startswith("META-INF/versions/"):
            name = name.split("/", 3)[3]
        out.add(name)
    return out


def select(ivy_jars: Path, spark_jars: Path) -> tuple[list[Path], list[str]]:
    """The resolved jars to bake in, and one line per jar left out with the reason."""
    spark = sorted(spark_jars.glob("*.jar"))
    spark_artifacts = {artifact_of(j.name, ivy=False) for j in spark}
    spark_classes: set[str] = set()
    for jar in spark:
        spark_classes |= classes_of(jar)
    keep, skipped = [], []
    for jar in sorted(ivy_jars.glob("*.jar")):
        artifact = artifact_of(jar.name, ivy=True)
        if artifact in spark_artifacts:
            skipped.append(f"{jar.name}: Spark ships {artifact}")
            continue
        clash = sorted(classes_of(jar) & spark_classes)
        if clash:
            skipped.append(f"{jar.name}: {len(clash)} classes already in Spark, e.g. {clash[0]}")
            continue
        keep.append(jar)
    return keep, skipped


def coordinate_jar(coordinate: str) -> str:
    """``group:artifact:version`` -> the file name Ivy retrieves it as."""
    group, artifact, version = coordinate.split(":")
    return f"{group}_{artifact}-{version}.jar"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ivy-jars", type=Path, required=True)
    parser.add_argument("--spark-jars", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--require", action="append", default=[], help="a coordinate that must be baked in"
    )
    args = parser.parse_args(argv)
    keep, skipped = select(args.ivy_jars, args.spark_jars)
    kept_names = {j.name for j in keep}
    missing = [c for c in args.require if coordinate_jar(c) not in kept_names]
    if missing:
        print(f"bake_jars: required package(s) not baked in: {missing}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for jar in keep:
        # Spark's naming (no group prefix) so `ls $SPARK_HOME/jars` reads uniformly
        shutil.copy2(jar, args.out / jar.name.split("_", 1)[1])
        print(f"baked  {jar.name}")
    for line in skipped:
        print(f"skip   {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
