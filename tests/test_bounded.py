"""No production code brings a growing table to the driver: every ``collect()`` and
``toPandas()`` either follows a ``limit``/global ``agg`` in the same chain, or says on its line
why its result is bounded (``# bounded: ...``, on it or on the comment line above it)."""

from __future__ import annotations

import ast
from pathlib import Path

import fin360

LIB = Path(fin360.__file__).parent
# the synthetic generator writes test data with pandas; grading reads the generator's truth
EXEMPT = ("sources/generator/",)
TO_DRIVER = {"collect", "toPandas"}
BOUNDING = {"limit", "agg", "first", "take", "head"}


def _chain(node: ast.expr) -> list[str]:
    names = []
    while isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
        node = node.value if not isinstance(node, ast.Call) else node.func
    return names


def unbounded_collects() -> list[str]:
    found = []
    for file in sorted(LIB.rglob("*.py")):
        relative = file.relative_to(LIB).as_posix()
        if relative.startswith(EXEMPT):
            continue
        source = file.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        statements = [n for n in ast.walk(tree) if isinstance(n, ast.stmt)]
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in TO_DRIVER:
                continue
            if BOUNDING & set(_chain(node.func.value)):
                continue
            enclosing = min(
                (
                    s
                    for s in statements
                    if s.lineno <= node.lineno and node.end_lineno <= s.end_lineno
                ),
                key=lambda s: s.end_lineno - s.lineno,
            )  # the innermost statement: its comments say why the result is small
            above = lines[enclosing.lineno - 2].strip() if enclosing.lineno > 1 else ""
            statement = [above] if above.startswith("#") else []
            statement += lines[enclosing.lineno - 1 : enclosing.end_lineno]
            if not any("# bounded:" in line for line in statement):
                found.append(f"{relative}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def test_every_collect_to_the_driver_is_bounded():
    assert unbounded_collects() == []
