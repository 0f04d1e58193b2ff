"""One way to read numbers, ids and `next` from a request (issue 13, item 1): core.numbers and
core.navigation. The URL walk proves no bad value gives a 5xx; this proves the rule itself: no code
converts data read straight from the request with a bare int()/float()/Decimal() (which take "١٢٣",
"1_000", "nan" and numbers past the database's range), and no redirect goes to a target read
straight from the request."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = ["catalog", "core", "members", "stores", "marketing", "orders", "distribution"]
REQUEST_DATA = {"GET", "POST", "COOKIES", "headers", "META", "body", "FILES"}
CONVERTERS = {"int", "float", "Decimal", "complex"}
REDIRECTS = {"redirect", "HttpResponseRedirect", "HttpResponsePermanentRedirect"}


# calls that hand request data on as it is: reading through them is still reading by hand; any other
# call (safe_target, parse_int, a form) is a reader of its own, and what it returns is checked there
PASS_THROUGH = {"get", "getlist", "pop", "strip", "lower", "split", "replace", "str"}


def _reads_request_data(node):
    """Whether `node` reads request.GET/POST/... itself, not through a reader (core.numbers, ...)."""
    if isinstance(node, ast.Attribute) and node.attr in REQUEST_DATA and (
            getattr(node.value, "id", None) or getattr(node.value, "attr", None)) == "request":
        return True
    if isinstance(node, ast.Call) and _name(node.func) not in PASS_THROUGH:
        return False
    return any(_reads_request_data(child) for child in ast.iter_child_nodes(node))


def _name(func):
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def offenders(source, filename="<code>"):
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        args = [*node.args, *(k.value for k in node.keywords)]
        if name in CONVERTERS and any(_reads_request_data(arg) for arg in args):
            found.append(f"{filename}:{node.lineno}: {name}() of request data (use core.numbers)")
        if name in REDIRECTS and node.args and _reads_request_data(node.args[0]):
            found.append(f"{filename}:{node.lineno}: {name}() to a request value (use core.navigation)")
    return found


def _project_files():
    for app in PROJECT_APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def test_no_view_reads_a_number_or_a_redirect_target_by_hand():
    files = list(_project_files())
    found = [hit for path in files for hit in offenders(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert len(files) > 100 and not found, "\n".join(found)


def test_the_check_sees_what_it_is_for():
    assert offenders("int(request.GET.get('page'))")
    assert offenders("float(self.request.POST['lat'])")
    assert offenders("Decimal(request.POST.get('amount', '0'))")
    assert offenders("redirect(request.GET.get('next', '/'))")
    assert offenders("HttpResponseRedirect(request.POST['next'])")
    assert not offenders("parse_int(request.GET.get('page'))")
    assert not offenders("redirect(safe_next(request, '/'))")
    assert offenders("int(str(request.GET['page']).strip())")
    assert not offenders("int(time.time())")
    assert not offenders("HttpResponseRedirect(safe_target(request, request.GET.get('next'), '/'))")
