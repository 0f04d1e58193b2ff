"""Read a rendered HTML form back as the data a browser would submit, for round-trip tests:
open an edit form, change nothing (or one field), post it, and see what the server does.

Only what a browser sends: named inputs, checked checkboxes and radios, selected options,
textareas; no file is re-sent (an <input type=file> left alone is sent empty, as a browser does).
"""

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, form_id=None):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.in_form = False
        self.done = False
        self.data = []
        self._select = None
        self._select_first = None
        self._select_chosen = False
        self._option_value = None
        self._option_text = None
        self._option_selected = False
        self._textarea = None
        self._textarea_text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self.done:
            if self.form_id is None or attrs.get("id") == self.form_id:
                self.in_form = True
            return
        if not self.in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name and "disabled" not in attrs:
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data.append((name, attrs.get("value", "on")))
            elif kind == "file":
                self.data.append((name, ""))
            elif kind not in ("submit", "button", "image", "reset"):
                self.data.append((name, attrs.get("value", "")))
        elif tag == "select" and name and "disabled" not in attrs:
            self._select, self._select_first, self._select_chosen = name, None, False
            self._select_multiple = "multiple" in attrs
        elif tag == "option" and self._select is not None:
            self._option_value = attrs.get("value")
            self._option_text = []
            self._option_selected = "selected" in attrs
        elif tag == "textarea" and name and "disabled" not in attrs:
            self._textarea, self._textarea_text = name, []

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea_text.append(data)
        elif self._option_text is not None:
            self._option_text.append(data)

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form, self.done = False, True
        elif tag == "option" and self._select is not None and self._option_text is not None:
            value = self._option_value if self._option_value is not None else "".join(self._option_text).strip()
            if self._select_first is None:
                self._select_first = value
            if self._option_selected:
                self.data.append((self._select, value))
                self._select_chosen = True
            self._option_text = None
        elif tag == "select" and self._select is not None:
            if not self._select_chosen and not self._select_multiple and self._select_first is not None:
                self.data.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._textarea_text)
            # a browser drops one newline right after <textarea>
            self.data.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None


def form_data(html, form_id=None):
    """The (name, value) pairs the first form (or the form with `form_id`) would submit, as a dict
    of lists (Django's test client posts lists as repeated fields)."""
    if isinstance(html, bytes):
        html = html.decode()
    reader = _FormReader(form_id)
    reader.feed(html)
    result = {}
    for name, value in reader.data:
        result.setdefault(name, []).append(value)
    return result
