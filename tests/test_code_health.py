"""Rules of the code base that a reader relies on, checked over the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "assistant"


def _local_imports(tree: ast.Module):
    """Import statements inside functions, with the function's name."""
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield fn.name, node


def test_every_function_local_import_says_why_it_is_not_at_the_top():
    """An import inside a function keeps a heavy module off a path that does not need it, or
    breaks an import cycle; a comment on its line or just above its block says which."""
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        lines = path.read_text("utf-8").splitlines()
        for name, node in _local_imports(ast.parse("\n".join(lines))):
            first = node.lineno - 1
            while first > 0 and re.match(r"\s*(import|from)\s|\s*$", lines[first - 1]):
                first -= 1  # the top of a block of imports (blank lines between them allowed)
            above = lines[first - 1].strip() if first > 0 else ""
            block = "\n".join(lines[first:node.end_lineno])
            if "#" not in block and not above.startswith("#"):
                missing.append(f"{path.relative_to(SRC)}:{node.lineno} in {name}()")
    assert not missing, "function-local imports without a reason:\n" + "\n".join(missing)

