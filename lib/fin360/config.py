"""Configuration: ``conf/base.yml`` merged with ``conf/<env>.yml``, then environment variables.

Every key is declared in :data:`SCHEMA`; a misspelt key or a wrong type fails at start with a
:class:`ConfigError` naming the key and the file it came from. String values may use
``${VAR}`` or ``${VAR:-default}``. Secrets (the PII key) are never read from files: only from
the environment, where they are needed.

Source declarations live in ``conf/sources.yml`` and load into :class:`SourceSpec` objects.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fin360 import Fin360Error

REPO_CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

# Environment variables that override one config key each (documented in the README).
ENV_ALIASES = {
    "FIN360_LAKEHOUSE": "paths.lakehouse",
    "FIN360_RAW": "paths.raw",
    "FIN360_TRUTH": "paths.truth",
    "FIN360_CHECKPOINTS": "paths.checkpoints",
    "FIN360_SPARK_MASTER": "spark.master",
    "FIN360_BANK": "bank",
    "MLFLOW_TRACKING_URI": "mlflow.tracking_uri",
}
# Any other key: FIN360__SECTION__KEY=value, value parsed as YAML
# (e.g. FIN360__SPARK__SHUFFLE_PARTITIONS=4)
ENV_GENERIC_PREFIX = "FIN360__"

OptStr = (str, type(None))
# key -> expected type(s), or a nested schema. `dict` marks a free-form mapping.
SCHEMA: dict[str, Any] = {
    "app_name": str,
    "bank": OptStr,  # the bank overlay in effect (conf/banks/<bank>/), set by load_config
    "paths": {
        "lakehouse": str,
        "raw": str,
        "truth": str,
        "checkpoints": str,
        "mlflow_artifacts": str,  # artifact root of the embedded MLflow store
        "reports": str,  # fin360 report writes its HTML here (a local folder of the driver)
        "logs": str,  # Spark's own log of each local session (a local folder of the driver)
        "bench_results": str,  # fin360 bench's results (JSON and plot), shown by fin360 report
        "lineage": str,  # OpenLineage events (JSON lines) with lineage.transport file
    },
    "lineage": {
        "transport": str,  # file | http | none
        "url": OptStr,  # http: the endpoint's base URL
        "namespace": str,  # the jobs' OpenLineage namespace
    },
    "consent": {
        "purposes": dict,  # purpose -> {column: customer column, missing: state when not delivered}
        "gates": {  # use -> the purposes it needs
            "segments": list,
            "training": list,
            "offers": list,
        },
    },
    "access": {
        "analyst_database": str,  # where fin360 analyst-views --create puts the analyst views
    },
    "tables": dict,  # optional per-table location overrides: {"<layer>.<table>": "s3a://..."}
    "spark": {
        "master": OptStr,  # null: leave it to spark-submit
        "shuffle_partitions": (int, "auto"),  # a number, or auto: sized from the local cores
        "driver_memory": OptStr,  # local mode: auto (a share of the machine), a size (8g), null
        "packages": list,  # Maven coordinates besides Delta's (which follows the delta-spark pin)
        "graph_engine": str,  # auto | dataframe | graphframes
        "repositories": list,
        "log_level": str,
        "conf": dict,  # passed through to SparkConf as-is
    },
    "generator": {
        "customers": int,
        "days": int,
        "seed": int,
        "start_date": str,
        "chunk_customers": int,
        "workers": int,
    },
    "bronze": {
        "sources_file": str,
        "max_field_chars": int,  # a record with a longer field is quarantined
    },
    "silver": {
        "base_currency": str,
        "default_timezone": str,  # wall-clock times without a zone are in this one
        "dq_rules_file": str,
        "mcc_categories": dict,  # MCC -> spend category (reference data)
        "er": {
            "name_similarity": float,  # min Jaro-Winkler-like ratio for the fuzzy rule
            "address_similarity": float,
        },
        "dates": {  # a date or time outside is quarantined (implausible_date:<column>)
            "earliest": str,
            "latest": str,
        },
    },
    "mlflow": {
        "tracking_uri": str,  # sqlite:///relative/path.db is taken from the project root
        "experiment_prefix": str,
    },
    "risk": {
        "approval_pd_cutoff": float,  # approve when the predicted default probability is below
        "max_fairness_gap": float,  # promotion bound on approval-rate and TPR gaps
        "fairness_min_group": int,  # groups smaller than this are left out of the gaps
        "models": list,  # model types compared by cross-validation: logistic_regression, gbt
        "cv_folds": int,
        "test_fraction": float,
        "validation_fraction": float,
        "bands": dict,  # risk band -> upper PD bound (exclusive), ascending; above the last: E
        "reason_codes": int,  # reason codes per customer
        "label": {  # what "defaulted" means for the training label
            "default_statuses": list,  # loan statuses that are a default
            "dpd_threshold": int,  # days past due (worst in 12 months) that make a default
            "observation_months": int,  # a loan is mature once observed this long
        },
    },
    "segmentation": {
        "features": list,  # gold.customer_360 columns the segments are built on
        "algorithms": list,  # kmeans | bisecting_kmeans | gaussian_mixture
        "k_min": int,
        "k_max": int,
    },
    "graph": {
        "identifier_window_days": int,
        "money_window_days": int,
        "max_identifier_customers": int,
        "pagerank_reset": float,
        "pagerank_max_iter": int,
        "pagerank_tol": float,
        "label_propagation_max_iter": int,
        "ring_max_size": int,
        "ring_cutoff": float,
        "refresh_days": int,  # rebuilt when the latest graph is this many days old (1: daily)
    },
    "anomaly": {
        "window_days": int,  # transactions scored: the last N days up to the as-of date
        "history_days": int,  # each customer's baseline: the N days before the window
        "clusters": int,  # KMeans clusters of normal behaviour
        "alert_rate": float,  # share of the window's transactions raised as alerts
        "labels": OptStr,  # Parquet of confirmed cases (txn_id, anomaly_type) for evaluation
        "graph_features": list,  # gold.graph_features columns joined to each transaction
    },
    "scoring": {
        "offers_per_customer": int,
        "credit_offer_bands": list,  # risk bands eligible for credit products
    },
    "monitoring": {
        "psi_bins": int,
        "psi_warning": float,  # a PSI above this logs a warning and flags the row
    },
}


class ConfigError(Fin360Error):
    """A user mistake in configuration: printed as one line, exit code 2."""


@dataclass(frozen=True)
class Config:
    """Merged, validated configuration of one environment."""

    env: str
    values: dict[str, Any]
    conf_dir: Path

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def __getitem__(self, dotted: str) -> Any:
        sentinel = object()
        value = self.get(dotted, sentinel)
        if value is sentinel:
            raise ConfigError(f"config key '{dotted}' is not set in env '{self.env}'")
        return value

    def path(self, name: str) -> str:
        """A location under ``paths``: absolute path or URI."""
        return self[f"paths.{name}"]

    def with_overrides(self, overrides: dict[str, Any], origin: str = "overrides") -> Config:
        """A copy with dotted-key overrides applied and validated (used by the CLI and tests)."""
        layer: dict[str, Any] = {}
        for dotted, value in overrides.items():
            _set_dotted(layer, dotted, value)
        _validate(layer, SCHEMA, origin)
        merged = _resolve_paths(_deep_merge(self.values, layer), self.conf_dir.parent)
        return Config(self.env, merged, self.conf_dir)


def available_envs(conf_dir: Path) -> list[str]:
    special = {"base", "sources", "dq_rules"}
    return sorted(p.stem for p in conf_dir.glob("*.yml") if p.stem not in special)


def available_banks(conf_dir: Path) -> list[str]:
    return sorted(p.name for p in (conf_dir / "banks").glob("*") if p.is_dir())


def _default_conf_dir() -> Path:
    """The checkout's ``conf/``; from an installed wheel or a ``--py-files`` zip, ``./conf``."""
    return REPO_CONF_DIR if (REPO_CONF_DIR / "base.yml").is_file() else Path.cwd() / "conf"


def load_config(
    env: str = "local", conf_dir: str | Path | None = None, bank: str | None = None
) -> Config:
    """Load ``base.yml`` + ``<env>.yml`` + the bank overlay + environment variables, validated.

    A bank overlay (``bank`` or ``FIN360_BANK``) is the folder ``conf/banks/<bank>/``: its
    ``bank.yml`` (optional) is merged after the environment's file, and its ``sources.yml``
    and ``dq_rules.yml``, where present, replace the default ones. Onboarding a bank is
    adding such a folder: YAML only."""
    conf_path = Path(conf_dir or os.environ.get("FIN360_CONF_DIR") or _default_conf_dir()).resolve()
    base_file = conf_path / "base.yml"
    if not base_file.is_file():
        raise ConfigError(
            f"config folder {conf_path} has no base.yml (set --conf-dir or FIN360_CONF_DIR)"
        )
    env_file = conf_path / f"{env}.yml"
    if env == "base" or not env_file.is_file():
        raise ConfigError(
            f"unknown environment '{env}': {env_file} not found "
            f"(available: {', '.join(available_envs(conf_path))})"
        )
    bank = bank or os.environ.get("FIN360_BANK") or None
    files = [base_file, env_file]
    bank_defaults: dict[str, Any] = {}
    if bank:
        bank_dir = conf_path / "banks" / bank
        if not bank_dir.is_dir():
            raise ConfigError(
                f"unknown bank '{bank}': {bank_dir} not found "
                f"(available: {', '.join(available_banks(conf_path)) or 'none'})"
            )
        bank_defaults["bank"] = bank
        for name, key in (("sources.yml", "sources_file"), ("dq_rules.yml", "dq_rules_file")):
            if (bank_dir / name).is_file():
                section = "bronze" if key == "sources_file" else "silver"
                bank_defaults.setdefault(section, {})[key] = f"banks/{bank}/{name}"
        if (bank_dir / "bank.yml").is_file():
            files.append(bank_dir / "bank.yml")
    merged: dict[str, Any] = {}
    for file in files:
        layer = read_yaml(file)
        _validate(layer, SCHEMA, str(file))
        merged = _deep_merge(merged, _substitute(layer, str(file)))
        if file == env_file:
            merged = _deep_merge(merged, bank_defaults)
    env_layer = _environment_layer(os.environ)
    env_layer.pop("bank", None)  # FIN360_BANK chose the overlay above
    merged = _deep_merge(merged, env_layer)
    return Config(env, _resolve_paths(merged, conf_path.parent), conf_path)


def read_yaml(file: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{file}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: top level must be a mapping, got {type(data).__name__}")
    return data


def _validate(layer: dict[str, Any], schema: dict[str, Any], origin: str, prefix: str = "") -> None:
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        if key not in schema:
            close = difflib.get_close_matches(str(key), [str(k) for k in schema], n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(f"{origin}: unknown config key '{dotted}'{hint}")
        expected = schema[key]
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: '{dotted}' must be a mapping, got {value!r}")
            _validate(value, expected, origin, f"{dotted}.")
            continue
        types = expected if isinstance(expected, tuple) else (expected,)
        if isinstance(value, str) and value in types:  # a literal such as "auto"
            continue
        literals = tuple(t for t in types if isinstance(t, str))
        types = tuple(t for t in types if not isinstance(t, str))
        if float in types:
            types = (*types, int)  # YAML `1` for a rate is fine
        # bool is an int in Python; a YAML `true` for an int key is still a mistake
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            names = " or ".join([*map(_type_name, types), *map(repr, literals)])
            raise ConfigError(f"{origin}: '{dotted}' must be {names}, got {value!r}")


def _type_name(expected: type) -> str:
    return "null" if expected is type(None) else expected.__name__


_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def parse_value(raw: str) -> Any:
    """A value given on the command line or in an environment variable, read as YAML; ``1e-4``
    (a string to YAML 1.1, which wants ``1.0e-4``) is the number it looks like."""
    value = yaml.safe_load(raw) if raw else raw
    if isinstance(value, str) and _EXPONENT.fullmatch(value.strip()):
        return float(value)
    return value


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _substitute(node: Any, origin: str, dotted: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, origin, f"{dotted}{k}.") for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, origin, dotted) for v in node]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{origin}: '{dotted.rstrip('.')}' uses ${{{name}}} but environment variable "
            f"{name} is not set"
        )

    return _VAR.sub(replace, node)


def _environment_layer(environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if name in ENV_ALIASES:
            dotted = ENV_ALIASES[name]
            value: Any = raw
        elif name.startswith(ENV_GENERIC_PREFIX):
            dotted = name[len(ENV_GENERIC_PREFIX) :].lower().replace("__", ".")
            value = parse_value(raw)
        else:
            continue
        single: dict[str, Any] = {}
        _set_dotted(single, dotted, value)
        _validate(single, SCHEMA, f"environment variable {name}")
        layer = _deep_merge(layer, single)
    return layer


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve_paths(values: dict[str, Any], root: Path) -> dict[str, Any]:
    """Relative local paths are taken from the project root, so any working directory works."""
    paths = {}
    for name, value in values.get("paths", {}).items():
        paths[name] = (
            value if "://" in value or os.path.isabs(value) else str((root / value).resolve())
        )
    out = {**values, "paths": paths}
    labels = values.get("anomaly", {}).get("labels")
    if labels and "://" not in labels and not os.path.isabs(labels):
        out["anomaly"] = {**values["anomaly"], "labels": str((root / labels).resolve())}
    uri = values.get("mlflow", {}).get("tracking_uri", "")
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        db = (root / uri[len("sqlite:///") :]).resolve()
        out["mlflow"] = {**values["mlflow"], "tracking_uri": f"sqlite:///{db}"}
    return out


# --------------------------------------------------------------------------- sources.yml

SOURCE_FORMATS = {"csv", "json", "parquet", "fixed_width"}
SOURCE_KEYS = {
    "format", "path", "encoding", "encodings", "options", "columns", "pii", "description",
    "timezone", "entities",
}  # fmt: skip
COLUMN_KEYS = {"name", "required", "width"}
# Reader options per format: name -> type. `decimal` is the decimal separator of the source's
# numbers (parsed in silver); the rest are how the files are read.
READER_OPTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "csv": {
        "delimiter": str, "quote": str, "escape": str, "header": bool, "null_values": list,
        "skip_lines": int, "comment": str, "multiline": bool, "decimal": str,
    },
    "json": {"decimal": str},
    "fixed_width": {"decimal": str, "null_values": list},
    "parquet": {"decimal": str},
}  # fmt: skip


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    required: bool = False
    width: int | None = None  # fixed-width sources only


@dataclass(frozen=True)
class SourceSpec:
    """One raw source as declared in the sources file: how to read it (bronze) and how it maps
    onto the canonical model (``entities``, parsed by :mod:`fin360.silver.mapping`)."""

    name: str
    format: str
    path: str  # relative to paths.raw
    columns: tuple[ColumnSpec, ...]
    pii: tuple[str, ...] = ()  # source columns holding personal data: never shown or quarantined
    encoding: str = "UTF-8"
    # file-name glob -> encoding, for sources whose files differ (a branch exporting GBK)
    encodings: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    timezone: str | None = None  # of wall-clock times without a zone; else silver's default
    entities: dict[str, Any] = field(default_factory=dict)  # entity -> raw mapping
    origin: str = ""  # the file it was declared in, for error messages

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def sources_file(cfg: Config) -> Path:
    return cfg.conf_dir / cfg["bronze.sources_file"]


def load_sources(cfg: Config) -> dict[str, SourceSpec]:
    """Parse and validate the source declarations named by ``bronze.sources_file``."""
    file = sources_file(cfg)
    if not file.is_file():
        raise ConfigError(f"sources file {file} not found (bronze.sources_file)")
    data = read_yaml(file).get("sources")
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{file}: expected a non-empty 'sources' mapping")
    return {name: _parse_source(name, spec, str(file)) for name, spec in data.items()}


def _unknown_key(where: str, found: set[str], allowed: set[str], what: str = "key") -> None:
    unknown = sorted(found - allowed)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{where}: unknown {what} '{unknown[0]}'{hint}")


SOURCE_NAME = re.compile(r"[a-z][a-z0-9_]*")  # it names a table: bronze.<name>


def _checked_path(where: str, path: Any) -> str:
    """A source's folder: relative, under ``paths.raw`` (no ``..``, no scheme, no backslash)."""
    parts = path.split("/") if isinstance(path, str) else [""]
    if "://" in str(path) or "\\" in str(path) or any(p in ("", ".", "..") for p in parts):
        raise ConfigError(f"{where}: path must be a folder under paths.raw (a/b, no '..'), got {path!r}")  # fmt: skip
    return path


def _parse_source(name: str, spec: Any, origin: str) -> SourceSpec:
    where = f"{origin}: source '{name}'"
    if not isinstance(name, str) or not SOURCE_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: a source name names its table: lower-case letters, digits and _, "
            "starting with a letter"
        )
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a mapping")
    _unknown_key(where, set(spec), SOURCE_KEYS)
    fmt = spec.get("format")
    if fmt not in SOURCE_FORMATS:
        raise ConfigError(f"{where}: format must be one of {sorted(SOURCE_FORMATS)}, got {fmt!r}")
    options = spec.get("options") or {}
    if not isinstance(options, dict):
        raise ConfigError(f"{where}: 'options' must be a mapping")
    allowed = READER_OPTIONS[fmt]
    _unknown_key(f"{where} options", set(options), set(allowed), f"{fmt} option")
    for key, value in options.items():
        if (isinstance(value, bool) and allowed[key] is not bool) or not isinstance(
            value, allowed[key]
        ):
            raise ConfigError(
                f"{where}: option '{key}' must be {allowed[key].__name__}, got {value!r}"
            )
    for key in ("delimiter", "quote", "escape", "comment", "decimal"):
        if key in options and len(options[key]) != 1:
            raise ConfigError(
                f"{where}: option '{key}' must be one character, got {options[key]!r}"
            )
    if options.get("skip_lines", 0) < 0:
        raise ConfigError(f"{where}: option 'skip_lines' must be 0 or more")
    columns = []
    for col in spec.get("columns") or []:
        if isinstance(col, str):
            col = {"name": col}
        if not isinstance(col, dict) or "name" not in col or set(col) - COLUMN_KEYS:
            raise ConfigError(f"{where}: bad column entry {col!r} (keys: {sorted(COLUMN_KEYS)})")
        columns.append(
            ColumnSpec(
                name=col["name"], required=bool(col.get("required", False)), width=col.get("width")
            )
        )
    if not columns:
        raise ConfigError(f"{where}: declares no columns")
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: a column is declared twice")
    odd = [c for c in names if not isinstance(c, str) or not c or re.search(r"[.`\x00-\x1f]", c)]
    if odd:
        raise ConfigError(f"{where}: column name {odd[0]!r} may not be empty or hold '.', '`' or control characters")  # fmt: skip
    if fmt == "fixed_width" and any(not isinstance(c.width, int) or c.width <= 0 for c in columns):
        raise ConfigError(f"{where}: every fixed_width column needs a positive integer 'width'")
    missing = [c for c in spec.get("pii") or [] if c not in names]
    if missing:
        raise ConfigError(f"{where}: pii names undeclared column(s) {missing}")
    entities = spec.get("entities") or {}
    if not isinstance(entities, dict):
        raise ConfigError(f"{where}: 'entities' must be a mapping of entity -> column mapping")
    return SourceSpec(
        name=name,
        format=fmt,
        path=_checked_path(where, spec.get("path", name)),
        columns=tuple(columns),
        pii=tuple(spec.get("pii") or ()),
        encoding=spec.get("encoding", "UTF-8"),
        encodings=dict(spec.get("encodings") or {}),
        options=dict(options),
        description=spec.get("description", ""),
        timezone=spec.get("timezone"),
        entities=entities,
        origin=origin,
    )
