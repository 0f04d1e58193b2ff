"""No input gives a 5xx, anywhere (issue 13, item 1): every URL pattern of config.urls, walked with
generated bad values, answers below 500, and every streamed CSV streams to its end.

The walk
- **Patterns**: every pattern the root URLconf resolves (shop, accounts, payments, back office,
  admin), path converters filled with real values from a small seeded world (walk_world.py) and,
  one at a time, with bad ones (0, past PostgreSQL's integer and bigint, 5,000 digits, a NUL, a long
  string, non-ASCII digits, an unknown uuid).
- **Who**: the shop and accounts as an anonymous visitor and as a shopper; the back office as HQ
  and as a store clerk; the admin as a superuser and as the store clerk.
- **Parameters**: the names each page reads: those its own HTML sends (form fields, submit
  buttons, link and htmx query keys), the fields of every form found on any page that posts to
  the URL, the admin's date-hierarchy and filter names, and every name the project's code reads
  from request.GET/POST or declares on a Form, sampled.
- **Values**: NULs, numbers past the database's range (2147483648, 2**63, 40 and 5,000 digits,
  1e400), negatives, non-ASCII digits (², ١٢٣, １２), long strings, `next` values that are not a
  path, absurd dates, and years at and past the ends of a datetime (1, 9999, 0, 10000).
- **Requests**: GET with and without HX-Request, and POST (multipart or urlencoded) on top of
  the form data the page itself would send, so a bad field is read past the other fields' checks:
  every name bad at once (each with its own value), then each name alone with one value of each
  kind it may be given (a NUL always; a number's name also one past the range and one in
  non-ASCII digits; a text's a long one; a `next` one that is not a path). Names and values are
  sampled (Policy), not multiplied out, so the walk stays well under two minutes.

Each request runs inside a savepoint rolled back afterwards, so one request's changes (or a failed
query) never decide the next one's outcome; a seeded random makes the walk the same on every run.
PostgreSQL only: NUL characters and integer range errors are what SQLite lets through.
"""

import ast
import json
import random
import re
import sys
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from .walk_world import build_world, real_kwargs

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = ["catalog", "core", "members", "stores", "marketing", "orders", "distribution"]

# --- values --------------------------------------------------------------------------------------
BAD = {
    "nul": ["\x00", "1\x00", "a\x00b", "\x00" * 3],
    "huge": ["2147483648", "9223372036854775808", "9" * 40, "9" * 5000, "1e400", "99999999999999999999.99"],
    "negative": ["-1", "-2147483649", "-9223372036854775809", "-1e400"],
    "year": ["9999", "1", "0", "10000"],  # the ends of what a datetime holds, and just past them
    "non_ascii_digits": ["²", "١٢٣", "１２", "٣", "௫", "¹²³"],
    "long": ["x" * 5000, "😀" * 400, "订" * 3000, "9" * 4000],
    "odd": ["abc", " ", "[]", "9999-12-31", "0000-00-00", "10000", "0", "-0", "%00", "NaN", "1.5", "2026-02-30",
            "\u202e\ufeff", "{\"a\": \"\\u0000\"}"],
    "not_a_path": ["abc", "//evil.example/", "javascript:alert(1)", "https://evil.example/", "\\\\evil",
                   "/\\evil", "/a\nb"],
}
ALL_VALUES = [value for values in BAD.values() for value in values]

# what each kind of parameter is given, one request per kind (NUL always: nothing here may take one)
KINDS_FOR = {
    "year": ["nul", "year", "year", "year", "year", "non_ascii_digits"],
    "number": ["nul", "huge", "non_ascii_digits"],
    "next": ["nul", "not_a_path"],
    "text": ["nul", "long"],
}
NUMBER_NAME = re.compile(
    r"(^|_)(id|pk|page|p|quantity|qty|store|category|c|level|year|month|day|before|after|poll|delta|points|"
    r"threshold|amount|order|exchange|line|sku|index|o|fee|adjustment)$|__(exact|year|month|day|gte|lte|lt|gt|in)$"
    r"|^(qty|received)_"
)
NEXT_NAME = re.compile(r"(^|_)(next|url|redirect|return_to)$")

BAD_PATH = {
    "int": ["0", "2147483648", "9223372036854775808", "9" * 5000],
    "str": ["\x00", "x" * 3000, "١٢٣", "-1", "2026-02-30", "9999-12-31", "0000-01-01", "😀"],
    "slug": ["x" * 300, "-1", "0"],
    "path": ["\x00", "9" * 5000, "2147483648", "abc"],
    "regex": ["\x00", "x" * 3000],
}

# names many pages read, whatever the page shows
COMMON_NAMES = [
    "q", "page", "p", "city", "category", "c", "next", "store", "store_id", "sku", "sku_id", "quantity", "typed",
    "id", "line", "year", "month", "day", "status", "tab", "kind", "sort", "level", "low", "before", "after",
    "poll", "lat", "lng", "url", "code", "order", "exchange", "period", "end", "start", "delta", "reason", "note",
    "points", "request_id", "selected", "all", "action", "phone", "agree", "o", "e", "_to_field", "_popup",
    "_changelist_filters", "_selected_action", "select_across", "index", "term", "app_label", "model_name",
    "field_name", "language", "amount", "low_threshold",
]


@dataclass
class Policy:
    """How hard one pattern is walked (the knobs that keep the walk well under two minutes)."""

    own_names: int = 6  # names the page itself sends (GET and POST each), each alone with each kind of value
    project_names: int = 2  # names read somewhere in the project, tried on this page too
    mixed_rounds: int = 2  # requests with every name bad at once (GET and POST each), values of every kind
    bad_paths: bool = True
    bad_path_posts: bool = True
    htmx: bool = True
    kinds: int = 9  # at most this many kinds of value per name (a NUL always among them)


FULL = Policy()
LIGHT = Policy(own_names=0, project_names=0, mixed_rounds=1, bad_paths=False)
BASELINE = Policy(own_names=0, project_names=0, mixed_rounds=0, bad_paths=False, htmx=False)


def policy_for(pattern, who_is_light):
    """Django's own admin views are the same code for every model: the changelist's filters and
    date hierarchy, and the custom admin views, are walked in full; add/change forms with a few
    names; delete and history pages lightly. A second walker of the same pages (`light`) sends each
    page as it is and with every name bad at once."""
    name = pattern.name or ""
    model_admin = _admin_of(pattern)
    if who_is_light:
        if model_admin is not None:  # the scoped lists; their other pages are the same code
            return BASELINE if name.endswith(("_changelist", "_change")) else None
        return BASELINE if pattern.area == "admin" else LIGHT
    if model_admin is not None:
        if name.endswith("_changelist"):
            return Policy(own_names=3, project_names=0, mixed_rounds=1, htmx=False, kinds=2)
        if name.endswith(("_add", "_change")):
            return Policy(own_names=1, project_names=0, mixed_rounds=1, bad_paths=name.endswith("_change"),
                          bad_path_posts=False, htmx=False, kinds=2)
        return BASELINE  # delete, history, the redirect to the change page
    if pattern.area == "admin":
        return Policy(htmx=False)
    return FULL


# --- the URL patterns ------------------------------------------------------------------------------
@dataclass
class Pattern:
    name: str | None
    parts: list  # literal strings and (kind, param) tuples
    callback: object
    model_admin: object = None

    @property
    def template(self):
        return "".join(p if isinstance(p, str) else f"<{p[0]}:{p[1]}>" for p in self.parts)

    @property
    def params(self):
        return [p for p in self.parts if not isinstance(p, str)]

    @property
    def area(self):
        text = self.template
        if text.startswith("admin/"):
            return "admin"
        if text.startswith("backoffice/"):
            return "backoffice"
        return "shop"

    def fill(self, values):
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(quote(str(values[part[1]]), safe="/" if part[0] == "path" else ""))
        return "/" + "".join(out)


_ROUTE_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")


def _parts(pattern):
    text = str(pattern)
    if isinstance(pattern, RoutePattern):
        parts, last = [], 0
        for match in _ROUTE_PARAM.finditer(text):
            parts.append(text[last:match.start()])
            parts.append((match["conv"] or "str", match["name"]))
            last = match.end()
        parts.append(text[last:])
        return [p for p in parts if p != ""]
    assert isinstance(pattern, RegexPattern), pattern
    text = text.lstrip("^").rstrip("$").replace("\\.", ".")
    parts, last = [], 0
    for match in _REGEX_GROUP.finditer(text):
        parts.append(text[last:match.start()])
        parts.append(("regex", match["name"]))
        last = match.end()
    parts.append(text[last:])
    return [p for p in parts if p != ""]


def all_patterns():
    """Every pattern the root URLconf resolves, with its namespaced name; the first of two
    patterns with the same route wins (allauth's pages behind the project's overrides)."""
    seen, found = set(), []

    def walk(resolver, prefix, namespace):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry, prefix + _parts(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                parts = prefix + _parts(entry.pattern)
                pattern = Pattern(f"{namespace}{entry.name}" if entry.name else None, parts, entry.callback)
                pattern.model_admin = getattr(entry.callback, "model_admin", None)
                if pattern.template not in seen:
                    seen.add(pattern.template)
                    found.append(pattern)

    walk(get_resolver(), [], "")
    return found


def _admin_of(pattern):
    """The ModelAdmin whose pages a pattern is (admin/<app>/<model>/...), or None."""
    for model, model_admin in admin.site._registry.items():
        if pattern.template.startswith(f"admin/{model._meta.app_label}/{model._meta.model_name}/"):
            return model_admin
    return None


# --- names the project reads ---------------------------------------------------------------------
_READS = re.compile(r"""(?:GET|POST|COOKIES|FILES)(?:\.get|\.getlist|\.pop)?\(?\[?\s*f?["']([A-Za-z_][\w-]*)""")


def project_names():
    """Every literal name read from request.GET/POST in the project's code, and every field declared
    on one of its forms."""
    names = set()
    for app in PROJECT_APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            names.update(_READS.findall(path.read_text()))
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and any("Form" in ast.unparse(b) for b in node.bases):
                    for item in node.body:
                        if isinstance(item, ast.Assign) and isinstance(item.value, ast.Call):
                            if "Field" in ast.unparse(item.value.func):
                                names.update(t.id for t in item.targets if isinstance(t, ast.Name))
    return sorted(names | set(COMMON_NAMES))


# --- what a page sends ---------------------------------------------------------------------------
@dataclass
class Form:
    target: str
    method: str
    fields: list  # (name, value) it sends as shown
    buttons: list  # (name, value) of named submit buttons
    optional: list = field(default_factory=list)  # names of boxes left unticked


class PageReader(HTMLParser):
    """The forms of a page, the query keys of its links and htmx attributes, and which names look
    like numbers (type=number inputs, numeric values and options)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.keys = set()
        self.numeric = set()
        self._form = None
        self._select = None
        self._textarea = None

    def _link(self, url):
        if url and "?" in url:
            for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
                self.keys.add(key)
                if value.lstrip("-").isdigit():
                    self.numeric.add(key)

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        for attr in ("href", "hx-get", "hx-post", "action"):
            self._link(a.get(attr))
        if a.get("hx-vals"):
            try:
                self.keys.update(json.loads(a["hx-vals"]))
            except (ValueError, TypeError, AttributeError):
                pass
        if tag == "form":
            method = "post" if (a.get("method", "get").lower() == "post" or "hx-post" in a) else "get"
            target = a.get("hx-post") or a.get("action") or a.get("hx-get") or ""
            self._form = Form(target, method, [], [])
            self.forms.append(self._form)
            return
        if tag == "option" and self._select is not None:
            if self._select[1] is None or "selected" in a:
                self._select[1] = a.get("value", "")
            if a.get("value", "").isdigit():
                self.numeric.add(self._select[0])
            return
        name = a.get("name")
        if not name:
            return
        if a.get("hx-post") and self._form is None:
            self.forms.append(Form(a["hx-post"], "post", [(name, a.get("value", ""))], []))
        if a.get("type") == "number" or a.get("inputmode") == "numeric" or a.get("value", "").lstrip("-").isdigit():
            self.numeric.add(name)
        if self._form is None:
            self.keys.add(name)
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "image", "button"):
                self._form.buttons.append((name, a.get("value", "")))
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.fields.append((name, a.get("value", "on")))
                else:
                    self._form.optional.append(name)
            elif kind != "file":
                self._form.fields.append((name, a.get("value", "")))
        elif tag == "button":
            self._form.buttons.append((name, a.get("value", "")))
        elif tag == "select":
            self._select = [name, None]
        elif tag == "textarea":
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            if self._form is not None and self._select[1] is not None:
                self._form.fields.append((self._select[0], self._select[1]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            if self._form is not None:
                self._form.fields.append(tuple(self._textarea))
            self._textarea = None


# --- the walk ------------------------------------------------------------------------------------
@dataclass
class Failure:
    who: str
    method: str
    path: str
    data: str
    status: object
    error: str

    def __str__(self):
        return f"{self.who} {self.method} {self.path[:160]} {self.data[:200]} -> {self.status} {self.error}"


def _short(data):
    if not data:
        return ""
    shown = {k: (v if not isinstance(v, str) or len(v) < 24 else f"{v[:12]!r}…({len(v)})") for k, v in data.items()}
    return repr(shown)


def _where(exc_info):
    """The exception and the deepest frame of the project's own code that raised it."""
    if not exc_info or exc_info[1] is None:
        return ""
    _type, exc, tb = exc_info
    frame = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(str(ROOT)) and "/.venv/" not in filename and "/tests/" not in filename:
            frame = f"{Path(filename).relative_to(ROOT)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return f"{type(exc).__name__}: {str(exc)[:160]} at {frame}"


@dataclass
class Walker:
    who: str
    user: object
    client: Client = None
    failures: list = field(default_factory=list)
    forms: dict = field(default_factory=dict)  # path -> [Form] found on any page
    own: dict = field(default_factory=dict)  # path -> (GET names, numeric names) its own page sends
    count: int = 0

    def __post_init__(self):
        self.client = Client(raise_request_exception=False)
        self._login()

    def _login(self):
        self.client.cookies.clear()
        if self.user is not None:
            self.client.force_login(self.user)
        cookie = self.client.cookies.get(settings.SESSION_COOKIE_NAME)
        self.session_key = cookie.value if cookie else None

    def _session_lost(self):
        """A logout, a login as someone else, or a flushed session: log the walker in again."""
        cookie = self.client.cookies.get(settings.SESSION_COOKIE_NAME)
        if (cookie.value if cookie else None) != self.session_key:
            return True
        if self.user is None:
            return False
        from importlib import import_module

        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=self.session_key)
        return str(session.get("_auth_user_id")) != str(self.user.pk)

    def send(self, method, path, data=None, *, hx=False, urlencoded=False):
        self.count += 1
        headers = {"HTTP_HX_REQUEST": "true"} if hx else {}
        sid = transaction.savepoint()
        response, status, error = None, None, ""
        try:
            if method == "get":
                response = self.client.get(path, data or {}, **headers)
            elif urlencoded:
                response = self.client.post(path, urlencode(data or {}, doseq=True),
                                            content_type="application/x-www-form-urlencoded", **headers)
            else:
                response = self.client.post(path, data or {}, **headers)
            status = response.status_code
            error = _where(getattr(response, "exc_info", None))
            if getattr(response, "streaming", False):
                try:
                    b"".join(response.streaming_content)
                except Exception:  # a CSV that breaks after its 200: the client sees a cut download
                    status, error = f"{status}, stream broke", _where(sys.exc_info())
        except Exception:  # the test client itself failed (never expected)
            status, error = "client raised", _where(sys.exc_info())
        finally:
            transaction.savepoint_rollback(sid)
        if not isinstance(status, int) or status >= 500:
            self.failures.append(Failure(self.who, method.upper(), path, _short(data), status, error))
        if response is not None and settings.SESSION_COOKIE_NAME in response.cookies and self._session_lost():
            self._login()
        return response

    def read_page(self, path, response):
        """Remember the forms of a page (under the path they send to) and the names it sends."""
        if response is None or response.status_code != 200 or getattr(response, "streaming", False):
            return
        if "html" not in response.get("Content-Type", ""):
            return
        reader = PageReader()
        reader.feed(response.content.decode(errors="replace"))
        get_names, numeric = set(reader.keys), set(reader.numeric)
        for form in reader.forms:
            split = urlsplit(form.target or path)
            action = split.path or path
            if not action.startswith("/"):
                continue
            query = parse_qsl(split.query, keep_blank_values=True)
            get_names.update(k for k, _v in query)
            if form.method == "get":
                get_names.update(name for name, _v in form.fields)
                continue
            known = self.forms.setdefault(action, [])
            if len(known) < 6:
                known.append(form)
        names, nums = self.own.setdefault(path, (set(), set()))
        names.update(get_names)
        nums.update(numeric)


def _kinds(name, numeric, limit):
    if name == "year" or name.endswith("__year"):
        kinds = KINDS_FOR["year"]
        limit = max(limit, 3)
    elif NEXT_NAME.search(name):
        kinds = KINDS_FOR["next"]
    elif name in numeric or NUMBER_NAME.search(name):
        kinds = KINDS_FOR["number"]
    else:
        kinds = KINDS_FOR["text"]
    return kinds[:limit]


def _base_data(form):
    """What the form sends as the page shows it (with its first named button, if any)."""
    data = {}
    for name, value in form.fields + form.buttons[:1]:
        data.setdefault(name, []).append(value)
    return data


class _Values:
    """Bad values of each kind in turn (a seeded walk through each list)."""

    def __init__(self, rng):
        self.rng = rng
        self.turn = {kind: rng.randrange(len(values)) for kind, values in BAD.items()}
        self.turn["year"] = -1  # 9999 first: the year whose next one does not exist

    def of(self, kind):
        self.turn[kind] += 1
        values = BAD[kind]
        return values[self.turn[kind] % len(values)]

    def any(self):
        return self.rng.choice(ALL_VALUES)


def _kwargs_for(pattern, real, world):
    """The real values for a pattern's converters ([{}] when it has none), or None."""
    if not pattern.params:
        return [{}]
    for key in (pattern.name, pattern.template):
        if key in real:
            return real[key]
    model_admin = _admin_of(pattern)
    if model_admin is not None and [p[1] for p in pattern.params] == ["object_id"]:
        first = model_admin.model._default_manager.order_by("pk").first()
        return [{"object_id": first.pk if first is not None else 1}]
    return None


def _bad_kwargs(pattern, good, rng):
    """The pattern's real values with one converter at a time given each bad value of its kind."""
    for kind, param in pattern.params:
        values = BAD_PATH.get(kind) or [str(uuid.UUID(int=rng.getrandbits(128)))]  # uuid
        for value in values:
            yield {**good, param: value}


def _admin_names(pattern):
    """The changelist's own parameters: search, ordering, page, and the date hierarchy's."""
    model_admin = _admin_of(pattern)
    if model_admin is None or not (pattern.name or "").endswith("_changelist"):
        return set()
    names = {"q", "o", "p"}
    if model_admin.date_hierarchy:
        names.update(f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day"))
    return names


def walk(world, who, user, patterns, *, light=False, seed=13):
    """Walk `patterns` as `user` (None: anonymous); returns the walker with its failures."""
    rng = random.Random(f"{seed}-{who}")
    values = _Values(rng)
    walker = Walker(who, user)
    real = real_kwargs(world)
    everywhere = project_names()
    plan, missing = [], []
    # 1. every page as it is (and as an htmx request): the forms and names it sends
    for pattern in patterns:
        kwargs_list = _kwargs_for(pattern, real, world)
        if kwargs_list is None:
            missing.append(pattern.template)
            continue
        policy = policy_for(pattern, light)
        if policy is None:
            continue
        for index, kwargs in enumerate(kwargs_list):
            path = pattern.fill(kwargs)
            plan.append((pattern, policy if index == 0 else LIGHT, kwargs, path))
            walker.read_page(path, walker.send("get", path))
            if policy.htmx:
                walker.send("get", path, hx=True)
    assert not missing, f"no real values for these URL patterns (add them to walk_world.real_kwargs): {missing}"

    # 2. bad values in every parameter, and bad values in the path
    for pattern, policy, kwargs, path in plan:
        _walk_pattern(walker, rng, values, everywhere, pattern, policy, kwargs, path)
    return walker


def _walk_pattern(walker, rng, values, everywhere, pattern, policy, kwargs, path):
    forms = walker.forms.get(path) or [Form(path, "post", [], [])]
    get_names, numeric = walker.own.get(path, (set(), set()))
    always = _admin_names(pattern)  # the changelist's own, the date hierarchy's above all
    get_names = sorted(get_names - always)
    post_names = sorted({name for form in forms for name, _v in form.fields + form.buttons} |
                        {name for form in forms for name in form.optional})
    for names in (get_names, post_names):
        if len(names) > policy.own_names:
            names[:] = sorted(rng.sample(names, policy.own_names))
    get_names = sorted(always) + get_names
    extra = rng.sample(everywhere, policy.project_names)  # each tried as a GET or a POST name
    get_extra, post_extra = extra[::2], extra[1::2]

    def get(data):
        walker.send("get", path, data, hx=policy.htmx and rng.random() < 0.3)

    def post(data, form=None):
        base = _base_data(form or rng.choice(forms))
        walker.send("post", path, {**base, **data}, hx=policy.htmx and rng.random() < 0.3,
                    urlencoded=rng.random() < 0.5)

    for _round in range(policy.mixed_rounds):  # every name bad at once, each with its own value
        get({name: values.any() for name in sorted(set(get_names) | set(extra) | {"q", "page", "next"})})
        post({name: values.any() for name in sorted(set(post_names) | set(extra))})
    for name in get_names + get_extra:  # each name alone, once with each kind of bad value it may get
        for kind in _kinds(name, numeric, policy.kinds):
            get({name: values.of(kind)})
    for name in post_names + post_extra:
        for kind in _kinds(name, numeric, policy.kinds):
            form = rng.choice([f for f in forms if name in dict(f.fields + f.buttons) or name in f.optional] or forms)
            post({name: values.of(kind)}, form)
    if policy.bad_paths:
        for bad in _bad_kwargs(pattern, kwargs, rng):
            bad_path = pattern.fill(bad)
            walker.send("get", bad_path)
            if policy.bad_path_posts:
                walker.send("post", bad_path, _base_data(rng.choice(forms)), urlencoded=rng.random() < 0.5)


def _report(walkers):
    failures = [f for w in walkers for f in w.failures]
    grouped = {}
    for failure in failures:
        grouped.setdefault(failure.error or f"status {failure.status}", []).append(failure)
    lines = [f"{len(failures)} requests of {sum(w.count for w in walkers)} answered 5xx or broke:"]
    for error, group in sorted(grouped.items(), key=lambda item: -len(item[1])):
        lines.append(f"\n[{len(group)}x] {error}")
        lines.extend(f"    {f}" for f in group[:3])
    return "\n".join(lines)


@pytest.fixture
def world(settings):
    settings.PAYMENT_DEV_GATEWAY = True
    import logging

    import responses

    # thousands of 4xx answers are the point of the walk: keep their log lines out of the output
    quiet = [logging.getLogger(name) for name in ("django.request", "django.security", "django.server")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False):  # nothing leaves the machine
            yield build_world()
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


def _patterns(area):
    return [p for p in all_patterns() if p.area == area]


def _check(*walkers):
    print(f"\n{sum(w.count for w in walkers)} requests")
    assert not any(w.failures for w in walkers), _report(walkers)


def test_the_shop_never_answers_5xx(world):
    patterns = _patterns("shop")
    _check(walk(world, "anonymous", None, patterns, light=True), walk(world, "shopper", world.shopper, patterns))


def test_the_back_office_never_answers_5xx(world):
    patterns = _patterns("backoffice")
    _check(walk(world, "hq", world.hq, patterns), walk(world, "store clerk", world.clerk, patterns, light=True))


def test_the_admin_never_answers_5xx(world):
    patterns = _patterns("admin")
    _check(walk(world, "superuser", world.superuser, patterns),
           walk(world, "store clerk", world.clerk, patterns, light=True))


def test_the_walk_covers_every_pattern_and_reads_names():
    """The walk is not vacuous: it sees every area and the names the code reads, and reads a
    page's forms and links the way a browser would send them."""
    patterns = all_patterns()
    assert {p.area for p in patterns} == {"shop", "backoffice", "admin"}
    assert len(patterns) > 300
    names = project_names()
    for expected in ("q", "page", "next", "city", "category", "delta", "quantity", "note", "low_threshold"):
        assert expected in names
    reader = PageReader()
    reader.feed('<a href="/x/?page=2&q=t">more</a><form method="post" action="/act/?store=3">'
                '<input name="delta" type="number" value="1"><input type="checkbox" name="all">'
                '<select name="level"><option value="7" selected>x</option></select><textarea name="note">hi'
                '</textarea><button name="action" value="send">ok</button></form>')
    (form,) = reader.forms
    assert {"page", "q", "store"} <= reader.keys and {"page", "delta", "level", "store"} <= reader.numeric
    assert form.method == "post" and form.fields == [("delta", "1"), ("level", "7"), ("note", "hi")]
    assert form.buttons == [("action", "send")] and form.optional == ["all"]
