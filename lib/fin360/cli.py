"""``fin360`` command line: every job is a subcommand, and jobs/*.py call the same ``main``.

    fin360 [--env ENV] [--conf-dir DIR] [--set KEY=VALUE ...] generate [--customers N] ...
    fin360 [--env ENV] run bronze [--source NAME ...]
    fin360 [--env ENV] run silver
    fin360 [--env ENV] run gold --as-of YYYY-MM-DD
    fin360 [--env ENV] run train
    fin360 [--env ENV] run score --as-of YYYY-MM-DD
    fin360 [--env ENV] run all [--as-of YYYY-MM-DD]
    fin360 [--env ENV] train segmentation|risk|anomaly | promote segmentation|risk|anomaly
    fin360 [--env ENV] mlflow-ui [--port 5000]
    fin360 [--env ENV] report [--as-of YYYY-MM-DD] [--out FILE.html]
    fin360 [--env ENV] package [--out dist] [--no-wheel] [--list]
    fin360 [--env ENV] [--bank BANK] sources check [--source NAME ...]
    fin360 [--env ENV] evaluate [--as-of YYYY-MM-DD]
    fin360 [--env ENV] bench pipeline [--customers N,N,...] [--cores K,K] [--work DIR]
    fin360 [--env ENV] bench graph [--vertices N] [--edges M]
    fin360 canonical-doc | features-doc
    fin360 [--env ENV] config

A user mistake (bad config, missing folder, unknown source) prints one ``fin360: error:`` line
and exits 2; an unexpected failure logs its traceback and exits 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from fin360 import Fin360Error, __version__
from fin360.chain import FAMILIES
from fin360.config import Config, ConfigError, load_config, parse_value
from fin360.logs import fields, setup_logging

log = logging.getLogger("fin360")

EXIT_USER_ERROR = 2
AS_OF_LATEST = "date YYYY-MM-DD (default: the day of the latest transaction)"


def _counts(text: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers like 2000,20000, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def _override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), parse_value(value)


def _common_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """Options every command takes, before or after the subcommand (jobs/*.py pass them after)."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--env",
        default=default(os.environ.get("FIN360_ENV", "local")),
        help="config environment: conf/<env>.yml (default: $FIN360_ENV or local)",
    )
    parser.add_argument(
        "--conf-dir",
        default=default(None),
        help="config folder (default: $FIN360_CONF_DIR, else the checkout's or ./conf/)",
    )
    parser.add_argument(
        "--bank",
        default=default(None),
        help="bank overlay: conf/banks/<bank>/ (default: $FIN360_BANK, else none)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_override,
        default=default([]),
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set spark.shuffle_partitions=4",
    )
    parser.add_argument("--log-level", default=default("INFO"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fin360", description="Customer-360 lakehouse on Spark")
    parser.add_argument("--version", action="version", version=f"fin360 {__version__}")
    _common_options(parser, defaults=True)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, defaults=False)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser(
        "generate", parents=[common], help="write synthetic multi-source raw data"
    )
    gen.add_argument("--customers", type=int)
    gen.add_argument("--days", type=int)
    gen.add_argument("--seed", type=int)
    gen.add_argument("--start-date")
    gen.add_argument("--workers", type=int)
    gen.add_argument(
        "--out",
        help="write raw files to OUT/raw and truth to OUT/truth instead of paths.raw and "
        "paths.truth, where `fin360 run` reads them (default)",
    )
    gen.add_argument(
        "--layout",
        default="standard",
        metavar="NAME",
        help="the generator's export layout of the bank (default: standard; the generator "
        "lists the others)",
    )
    gen.set_defaults(handler=cmd_generate)

    run = commands.add_parser("run", help="run a pipeline job")
    jobs = run.add_subparsers(dest="job", required=True)
    bronze = jobs.add_parser(
        "bronze", parents=[common], help="land new raw batches into bronze Delta tables"
    )
    bronze.add_argument("--source", action="append", help="only this source (repeatable)")
    bronze.set_defaults(handler=cmd_bronze)
    silver = jobs.add_parser(
        "silver", parents=[common], help="cleanse, check, pseudonymise and resolve into silver"
    )
    silver.set_defaults(handler=cmd_silver)
    gold = jobs.add_parser("gold", parents=[common], help="customer-360 features and training sets")
    gold.add_argument("--as-of", required=True, help="feature date YYYY-MM-DD")
    gold.set_defaults(handler=cmd_gold)
    train_all = jobs.add_parser(
        "train", parents=[common], help="train every model family, then promote the better ones"
    )
    train_all.add_argument("--as-of", help=AS_OF_LATEST)
    train_all.set_defaults(handler=cmd_run_train)
    score = jobs.add_parser(
        "score", parents=[common], help="score customers and transactions with the champions"
    )
    score.add_argument("--as-of", required=True, help="scoring date YYYY-MM-DD")
    score.set_defaults(handler=cmd_score)
    everything = jobs.add_parser(
        "all", parents=[common], help="the whole chain: bronze, silver, gold, train, score"
    )
    everything.add_argument("--as-of", help=AS_OF_LATEST)
    everything.add_argument(
        "--no-train",
        action="store_true",
        help="score with the champions as they are: the daily run between retrainings",
    )
    everything.set_defaults(handler=cmd_all)

    train = commands.add_parser("train", parents=[common], help="train a model family in MLflow")
    train.add_argument("family", choices=FAMILIES)
    train.add_argument("--as-of", help=f"anomaly: end of the test window; {AS_OF_LATEST}")
    train.set_defaults(handler=cmd_train)
    promote = commands.add_parser(
        "promote", parents=[common], help="make the challenger champion if it is better"
    )
    promote.add_argument("family", choices=FAMILIES)
    promote.set_defaults(handler=cmd_promote)
    ui = commands.add_parser(
        "mlflow-ui", parents=[common], help="start the MLflow UI on the configured store"
    )
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(handler=cmd_mlflow_ui)

    report = commands.add_parser(
        "report", parents=[common], help="write the HTML report (data quality, models, drift)"
    )
    report.add_argument("--as-of", help="date YYYY-MM-DD (default: the latest scoring date)")
    report.add_argument(
        "--out", help="HTML file (default: paths.reports/fin360-report-<date>.html)"
    )
    report.set_defaults(handler=cmd_report)

    pack = commands.add_parser(
        "package", parents=[common], help="build the wheel, the --py-files zip and --packages list"
    )
    pack.add_argument("--out", default="dist", help="output folder (default: dist)")
    pack.add_argument("--no-wheel", dest="wheel", action="store_false", help="skip the wheel")
    pack.add_argument(
        "--list", action="store_true", help="only print the --packages value and exit"
    )
    pack.set_defaults(handler=cmd_package)

    doc = commands.add_parser(
        "features-doc", parents=[common], help="write the gold feature dictionary (Markdown)"
    )
    doc.add_argument("--out", default="docs/feature_dictionary.md")
    doc.set_defaults(handler=cmd_features_doc)

    canon = commands.add_parser(
        "canonical-doc", parents=[common], help="write the canonical model's reference (Markdown)"
    )
    canon.add_argument("--out", default="docs/canonical_model.md")
    canon.set_defaults(handler=cmd_canonical_doc)

    srcs = commands.add_parser("sources", help="onboard a bank's sources")
    src_cmds = srcs.add_subparsers(dest="sources_command", required=True)
    check = src_cmds.add_parser(
        "check",
        parents=[common],
        help="read each source's latest raw batch and map it, without writing: columns, "
        "mapping errors, rows that would be quarantined and why",
    )
    check.add_argument("--source", action="append", help="only this source (repeatable)")
    check.add_argument("--sample", type=int, default=5, help="quarantined rows shown per entity")
    check.set_defaults(handler=cmd_sources_check)

    grade = commands.add_parser(
        "evaluate",
        parents=[common],
        help="grade entity resolution, segments and alerts against the generator's planted truth",
    )
    grade.add_argument("--as-of", help="scoring date to grade (default: the latest)")
    grade.set_defaults(handler=cmd_evaluate)

    bench = commands.add_parser("bench", help="measure fin360 on generated data")
    benches = bench.add_subparsers(dest="bench", required=True)
    gbench = benches.add_parser(
        "graph",
        parents=[common],
        help="connected components and PageRank on a generated graph, timed",
    )
    gbench.add_argument("--vertices", type=int, default=1_000_000)
    gbench.add_argument("--edges", type=int, default=5_000_000)
    gbench.add_argument("--pagerank-iterations", type=int, default=10)
    gbench.add_argument("--out", help="folder of the results JSON (default: paths.bench_results)")
    gbench.set_defaults(handler=cmd_bench_graph)
    pbench = benches.add_parser(
        "pipeline",
        parents=[common],
        help="the whole chain at several scale factors, per stage against plain-Spark and "
        "DuckDB floors",
    )
    pbench.add_argument(
        "--customers", type=_counts, default=[2000, 20000], metavar="N,N,...",
        help="scale factors: customers of each generated bank (default: 2000,20000)",
    )  # fmt: skip
    pbench.add_argument(
        "--cores", type=_counts, default=[2], metavar="K,K",
        help="local[K] per run; the smallest factor runs at each K, the others at the largest "
        "(default: 2)",
    )  # fmt: skip
    pbench.add_argument("--days", type=int, help="days of activity (default: generator.days)")
    pbench.add_argument(
        "--score-rows", type=int, default=1_000_000, metavar="N",
        help="customers the scoring throughput is measured on: the as-of date's customer-360 "
        "rows copied up to N (default: 1000000)",
    )  # fmt: skip
    pbench.add_argument(
        "--work", default="data/bench",
        help="generated banks (kept, reused) and each run's lakehouse (default: data/bench)",
    )  # fmt: skip
    pbench.add_argument("--out", help="folder of the results (default: paths.bench_results)")
    pbench.set_defaults(handler=cmd_bench_pipeline)

    trail = commands.add_parser(
        "lineage", parents=[common], help="where a table's current version came from"
    )
    trail.add_argument("table", help="a table of the lakehouse, e.g. gold.customer_360")
    trail.set_defaults(handler=cmd_lineage)

    forget = commands.add_parser(
        "forget", parents=[common],
        help="remove a person from every table, every table version and MLflow (right to be forgotten)",
    )  # fmt: skip
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", help="a source key (CRM customer id) or a customer_id")
    who.add_argument(
        "--file", type=Path, help="a file of requests: one source key or customer_id per line"
    )
    forget.set_defaults(handler=cmd_forget)

    views = commands.add_parser(
        "analyst-views", parents=[common],
        help="the analyst role's views over gold: tokens and masked values only",
    )  # fmt: skip
    how = views.add_mutually_exclusive_group(required=True)
    how.add_argument("--sql", action="store_true", help="print their SQL for your catalog")
    how.add_argument(
        "--create", action="store_true",
        help="create them in the session's metastore (access.analyst_database)",
    )  # fmt: skip
    views.set_defaults(handler=cmd_analyst_views)

    show = commands.add_parser("config", parents=[common], help="print the merged configuration")
    show.set_defaults(handler=cmd_config)
    return parser


def cmd_generate(cfg: Config, args: argparse.Namespace) -> None:
    from fin360.sources.generator import generate

    gen = {k: cfg[f"generator.{k}"] for k in ("customers", "days", "seed", "start_date", "workers")}
    for key in gen:
        if getattr(args, key, None) is not None:
            gen[key] = getattr(args, key)
    out = Path(args.out).resolve() if args.out else None
    raw = str(out / "raw") if out else cfg.path("raw")
    truth = str(out / "truth") if out else cfg.path("truth")
    layout = args.layout
    log.info(fields(stage="generate", status="start", raw=raw, truth=truth, layout=layout, **gen))
    try:
        manifest = generate(
            raw,
            truth,
            chunk_customers=cfg["generator.chunk_customers"],
            progress=lambda line: log.info("generate %s", line),
            layout=layout,
            **gen,
        )
    except ValueError as exc:  # the generator's argument checks
        raise Fin360Error(str(exc)) from None
    records = sum(b["records"] for s in manifest["sources"].values() for b in s.values())
    log.info(fields(stage="generate", status="end", records=records))
    if raw != cfg.path("raw"):
        log.info(
            "fin360 run reads paths.raw=%s: run it with FIN360_RAW=%s FIN360_TRUTH=%s to use these",
            cfg.path("raw"), raw, truth,
        )  # fmt: skip


def with_session(job: Callable[..., Any]) -> Callable[[Config, argparse.Namespace], None]:
    def handler(cfg: Config, args: argparse.Namespace) -> None:
        from fin360.spark import build_session

        job(build_session(cfg), cfg, args)

    return handler


def _bronze(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360.bronze import job

    job.run(spark, cfg, sources=args.source)


def _silver(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360.silver import job

    job.run(spark, cfg)


def _gold(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360.gold import job

    job.run(spark, cfg, job.parse_as_of(args.as_of))


def _all(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360 import chain
    from fin360.gold.job import parse_as_of

    as_of = parse_as_of(args.as_of) if args.as_of else None  # a typo fails before any work
    print(chain.run(spark, cfg, as_of, train=not args.no_train).render())


def _as_of(args: argparse.Namespace) -> Any:
    from fin360.gold.job import parse_as_of

    return parse_as_of(args.as_of) if getattr(args, "as_of", None) else None


def _run_train(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360 import chain

    chain.train_all(spark, cfg, _as_of(args))


def _score(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360.scoring import job

    job.run(spark, cfg, _as_of(args))


def _features_doc(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360 import lake
    from fin360.gold import features, job

    schema = lake.read(spark, cfg, job.CUSTOMER_360).schema
    graph_schema = lake.read(spark, cfg, job.GRAPH_FEATURES).schema
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    text = features.render_dictionary(schema, graph_schema)
    Path(args.out).write_text(text, encoding="utf-8")
    count = len(features.all_features()) + len(features.graph_features())
    log.info("wrote %s (%d features)", args.out, count)


def _sources_check(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360 import onboarding

    reports = onboarding.check(spark, cfg, args.source, args.sample)
    print(onboarding.render(reports))
    failed = [r.name for r in reports if not r.ok]
    if failed:
        raise Fin360Error(f"{len(failed)} source(s) need attention: {', '.join(failed)}")


def _evaluate(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    import json

    from fin360 import eval as grading

    print(json.dumps(grading.run(spark, cfg, _as_of(args)), indent=2, default=str))


def cmd_canonical_doc(cfg: Config, args: argparse.Namespace) -> None:
    from fin360 import canonical

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(canonical.render_doc(), encoding="utf-8")
    log.info("wrote %s (%d entities)", args.out, len(canonical.ENTITIES))


def _report(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360 import report

    report.run(spark, cfg, _as_of(args), Path(args.out) if args.out else None)


def _train(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360 import chain

    chain.family_step(args.family, "train", spark, cfg, _as_of(args))


def _promote(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360 import chain

    chain.family_step(args.family, "promote", spark, cfg, None)


cmd_train = with_session(_train)
cmd_promote = with_session(_promote)
cmd_bronze = with_session(_bronze)
cmd_silver = with_session(_silver)
cmd_gold = with_session(_gold)
cmd_features_doc = with_session(_features_doc)
cmd_all = with_session(_all)
cmd_run_train = with_session(_run_train)
cmd_score = with_session(_score)
cmd_report = with_session(_report)
cmd_sources_check = with_session(_sources_check)
cmd_evaluate = with_session(_evaluate)


def _lineage(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360.governance import lineage

    print("\n".join(lineage.trace(spark, cfg, args.table)))


cmd_lineage = with_session(_lineage)


def _forget(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360.governance import forget

    if args.file is not None:
        try:
            requested = args.file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise Fin360Error(f"forget: cannot read {args.file}: {exc}") from None
    else:
        requested = [args.customer]
    done = forget.run(spark, cfg, requested)
    print(
        f"forgot {done['found']} of {done['requests']} requested customer(s) in "
        f"{done['seconds']} s: {done['rows_removed']} rows removed from "
        f"{done['files_rewritten']} files of {done['tables_changed']} tables (every version), "
        f"{done['artifacts_redacted']} MLflow artefacts and {done['reports_redacted']} reports "
        f"redacted; their keys are on the suppression list ({forget.SUPPRESSION}), the "
        f"requests in {forget.REQUESTS}"
    )


cmd_forget = with_session(_forget)


def _analyst_views(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    from fin360.governance import access

    if args.sql:
        print(";\n".join(access.statements(spark, cfg)) + ";")
        return
    names = access.create(spark, cfg)
    print(f"created {len(names)} analyst view(s): {', '.join(names)}")


cmd_analyst_views = with_session(_analyst_views)


def _bench_graph(spark: Any, cfg: Config, args: argparse.Namespace) -> None:
    import json

    from fin360.bench import graph as bench

    out = args.out or cfg.path("bench_results")
    results = bench.run(spark, cfg, args.vertices, args.edges, out, args.pagerank_iterations)
    print(json.dumps(results, indent=2))


cmd_bench_graph = with_session(_bench_graph)


def cmd_bench_pipeline(cfg: Config, args: argparse.Namespace) -> None:
    """No session here: each run starts its own process (and JVM) with its own master."""
    from fin360.bench import pipeline as bench

    args.days = args.days or cfg["generator.days"]
    results = bench.run(cfg, args)
    print(bench.render(results))
    print(
        f"\nresults: {results['written_to']}\nplot:    {Path(results['written_to']).with_suffix('.png')}"
    )


def cmd_mlflow_ui(cfg: Config, args: argparse.Namespace) -> None:
    """Replace this process with ``mlflow ui`` on the configured tracking store."""
    from fin360.ml.tracking import is_server

    uri = cfg["mlflow.tracking_uri"]
    if is_server(cfg):
        raise Fin360Error(f"mlflow.tracking_uri is a server: open {uri} in a browser")
    root = cfg.path("mlflow_artifacts")
    command = [
        "mlflow", "ui", "--backend-store-uri", uri, "--default-artifact-root",
        root if "://" in root else Path(root).resolve().as_uri(),
        "--host", args.host, "--port", str(args.port),
    ]  # fmt: skip
    log.info("starting %s", " ".join(command))
    os.execvp(command[0], command)


def cmd_package(cfg: Config, args: argparse.Namespace) -> None:
    from fin360 import packaging

    if args.list:
        print(",".join(packaging.spark_packages(cfg)))
        return
    built = packaging.package(cfg, Path(args.out), wheel=args.wheel)
    for kind in ("wheel", "zip"):
        if kind in built:
            log.info(fields(stage="package", built=kind, path=built[kind]))
    log.info(fields(stage="package", packages=",".join(built["packages"])))
    print(
        f"spark-submit --packages {','.join(built['packages'])} --py-files {built['zip']} "
        f"jobs/<job>.py --env {cfg.env} ..."
    )


def cmd_config(cfg: Config, args: argparse.Namespace) -> None:
    print(yaml.safe_dump({"env": cfg.env, **cfg.values}, sort_keys=False, allow_unicode=True))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        cfg = load_config(args.env, args.conf_dir, args.bank)
        if args.overrides:
            cfg = cfg.with_overrides(dict(args.overrides), origin="--set")
        args.handler(cfg, args)
    except (Fin360Error, ConfigError) as exc:
        print(f"fin360: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("fin360: interrupted", file=sys.stderr)
        return 130
    except Exception:
        log.exception("fin360 %s failed", " ".join(argv or sys.argv[1:]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
