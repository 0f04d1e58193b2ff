"""The one-way import rule of DESIGN.md, checked on every module of every app (also imports made
inside functions): core is the shared kernel; catalog and members know no other app; stores knows
catalog; marketing knows catalog, members and stores; orders knows catalog, stores, members and
marketing; distribution knows orders and members. Upward needs go through signals or settings
(dotted paths), never an import."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ["core", "catalog", "members", "stores", "marketing", "orders", "distribution"]
ALLOWED = {
    "core": set(),
    "catalog": {"core"},
    "members": {"core"},
    "stores": {"core", "catalog"},
    "marketing": {"core", "catalog", "members", "stores"},
    "orders": {"core", "catalog", "members", "stores", "marketing"},
    "distribution": {"core", "members", "orders"},
}


def imported_apps(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in APPS:
                found.add((top, node.lineno))
    return found


def modules_of(app):
    return [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]


@pytest.mark.parametrize("app", APPS)
def test_app_imports_only_the_apps_below_it(app):
    wrong = []
    for path in modules_of(app):
        for other, line in imported_apps(path):
            if other != app and other not in ALLOWED[app]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {other}")
    assert wrong == [], "imports against the one-way rule:\n" + "\n".join(sorted(wrong))


def test_the_rule_itself_is_one_way():
    for app, allowed in ALLOWED.items():
        for other in allowed:
            assert app not in ALLOWED[other], f"{app} and {other} may not import each other"


def test_the_check_sees_a_violation(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from orders.models import Order\n")
    assert imported_apps(sample) == {("orders", 2)}
