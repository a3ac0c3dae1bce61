"""Consistent job logs: one line per event, ``key=value`` fields, stage start/end with durations."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format=FORMAT, datefmt="%Y-%m-%d %H:%M:%S", force=True)
    # py4j logs every gateway call at INFO
    logging.getLogger("py4j").setLevel(logging.WARNING)


def fields(**values: Any) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items() if v is not None)


@contextmanager
def stage(log: logging.Logger, name: str, **context: Any) -> Iterator[dict[str, Any]]:
    """Log ``stage=<name> status=start`` and, on exit, ``status=end`` (or ``failed``) with the
    seconds taken and whatever the block put into the yielded dict (row counts)."""
    log.info(fields(stage=name, status="start", **context))
    started = time.monotonic()
    result: dict[str, Any] = {}
    try:
        yield result
    except Exception:
        seconds = f"{time.monotonic() - started:.1f}"
        log.error(fields(stage=name, status="failed", **context, seconds=seconds))
        raise
    seconds = f"{time.monotonic() - started:.1f}"
    log.info(fields(stage=name, status="end", **context, **result, seconds=seconds))
