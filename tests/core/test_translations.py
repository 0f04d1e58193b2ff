import importlib.util
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[2]


def _po_fill():
    spec = importlib.util.spec_from_file_location("po_fill", ROOT / "scripts" / "po_fill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_source_string_has_two_english_translations():
    _pairs, conflicts = _po_fill().read_pairs()
    assert conflicts == []


def test_compiled_catalogue_has_every_string_translated():
    po = polib.pofile(str(ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"))
    # a fuzzy entry or an unfilled plural is left out of the .mo: Chinese on an English page
    missing = [e.msgid for e in po if not e.obsolete and not e.translated()]
    assert missing == []


def test_tab_bar_words_in_english():
    pairs, _conflicts = _po_fill().read_pairs()
    assert [pairs[w] for w in ("首页", "分类", "购物车", "我的")] == ["Home", "Categories", "Cart", "Me"]
