"""lib/ is the pure core: no orchestrator, no collector, no simulator (DESIGN §1).

Walks the imports of every module under mlops_assets/lib with ``ast`` (module level and inside
functions), so a lazy import inside a function is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[2] / "mlops_assets" / "lib"
FORBIDDEN = (
    "dagster",
    "dagster_k8s",
    "dagster_mlflow",
    "dagster_postgres",
    "mlops_assets.defs",
    "mlops_assets.sources",
    "mlops_assets.simulate",
    "mlops_assets.resources",
    "mlops_assets.definitions",
    "mlops_assets.notify",
    "mlops_assets.commands",
)
MODULES = sorted(LIB.rglob("*.py"))


def imported_names(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def is_forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_lib_has_modules_in_domain_packages() -> None:
    top = {p.name for p in LIB.iterdir() if p.is_file() and p.suffix == ".py"}
    assert top == {"__init__.py"}, f"modules at lib/ top level, move them into a domain package: {top}"
    assert len(MODULES) > 30


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LIB)))
def test_lib_module_imports_only_the_pure_core(path: Path) -> None:
    bad = [n for n in imported_names(path) if is_forbidden(n)]
    assert not bad, f"{path.relative_to(LIB)} imports {bad}: lib/ must not depend on them"


def test_the_walker_sees_a_lazy_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from mlops_assets.sources.directory import DirectorySource\n")
    assert [n for n in imported_names(module) if is_forbidden(n)] == ["mlops_assets.sources.directory"]
