"""Requests that can never be valid input here are refused before any view runs.

A NUL character (``\\x00``, ``%00``) is never part of a search, a note, a code, an id or a path in
this shop, and PostgreSQL cannot store or even compare a string that holds one (psycopg2 raises
ValueError: a 500 from any view that passes the text on). So a NUL anywhere a view could read it —
the path, a query-string or form name or value, an uploaded file's name — answers 400 with the
"请求无效" page (core.views.bad_request), the same page as Django's other bad requests. It is
refused rather than stripped: a NUL only comes from a forged or broken request, and a quietly
changed value (a code, a reference, a signed notice) would be worse than a clear refusal.

Cookies are not checked (the views that read them ignore a value they cannot use, and refusing
every page to a browser with a damaged cookie would lock it out), nor are JSON bodies (the
payment notices are read by their own parsers, which verify a signature first).

The path and query string are checked before the URL is resolved; a form body once the view is
known. A csrf-exempt view (the payment gateways' notices) reads its own body: it verifies the
gateway's signature before using any value and answers in the gateway's protocol, so its form is
left to it (reading the form here would also consume the body it needs).
"""

from django.core.exceptions import BadRequest

NUL = "\x00"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _any_nul(query_dict):
    return any(NUL in key or any(NUL in value for value in values) for key, values in query_dict.lists())


def nul_in_path_or_query(request):
    return NUL in request.path_info or _any_nul(request.GET)


def nul_in_form(request):
    """Whether a form body (a field's name or value, an uploaded file's name) holds a NUL."""
    if request.method != "POST" or request.content_type not in FORM_TYPES:
        return False
    if _any_nul(request.POST):
        return True
    return any(NUL in key or NUL in (upload.name or "") for key, upload in request.FILES.items())


class RefuseNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if nul_in_path_or_query(request):
            raise BadRequest("a NUL character in the path or query string")
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "csrf_exempt", False) and nul_in_form(request):
            raise BadRequest("a NUL character in the form")
        return None


# --- the back office's scanner may compile WebAssembly ---------------------------------------------
BACKOFFICE_PREFIX = "/backoffice/"
SCANNER_CSP = {"script-src": ["'wasm-unsafe-eval'"]}


class BackofficeScannerPolicyMiddleware:
    """Back-office pages add 'wasm-unsafe-eval' to the Content-Security-Policy's script-src: the
    camera scanner (static/backoffice/scan.js) decodes with ZXing compiled to WebAssembly, a .wasm
    file served by the app itself, and a browser compiles WebAssembly only under that keyword. It
    lets a page compile WebAssembly, not evaluate JavaScript strings; scripts still come from this
    site only. Shop pages keep the bare policy. Listed after csp.middleware.CSPMiddleware, so that
    the policy is built from what this sets on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith(BACKOFFICE_PREFIX):
            for name in ("_csp_update", "_csp_update_ro"):  # the enforced policy, or the report-only one
                update = dict(getattr(response, name, None) or {})
                update["script-src"] = [*update.get("script-src", []), *SCANNER_CSP["script-src"]]
                setattr(response, name, update)
        return response
