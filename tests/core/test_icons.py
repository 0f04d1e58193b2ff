"""The app's icon set (core.icons): every icon a template or a category choice names is packed into
the sprite the app serves, and shop pages draw icons instead of Unicode glyphs."""

import json
import re
from pathlib import Path

import pytest
from django.template import Context, Template

from core.icons import CATEGORY_ICONS, SPRITE, listed_icons

ROOT = Path(__file__).resolve().parents[2]
ICON_TAG = re.compile(r'\{%\s*icon\s+"([a-z0-9-]+)"')
GLYPHS = re.compile("[⌂☰✓✔›‹↑↓★☆♥]")
GLYPH_EXCEPTIONS = set()


def shop_templates():
    folder = ROOT / "templates"
    for path in folder.rglob("*.html"):
        name = path.relative_to(folder).as_posix()
        if "backoffice" in name or name.startswith("admin/") or "/admin/" in name:
            continue
        yield name, path.read_text(encoding="utf-8")


def test_every_icon_a_template_or_a_category_names_is_listed():
    listed = set(listed_icons())
    used = {name for _, text in shop_templates() for name in ICON_TAG.findall(text)}
    used |= {name for name, _label in CATEGORY_ICONS}
    assert used, "no icon found: the check itself is broken"
    assert used - listed == set()


def test_listed_icons_exist_in_the_pinned_package_and_its_licence_is_mit():
    package = json.loads((ROOT / "package.json").read_text())
    assert package["dependencies"]["@tabler/icons"] == "3.51.0"
    lock = json.loads((ROOT / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/@tabler/icons"]
    assert (entry["version"], entry.get("license")) == ("3.51.0", "MIT")
    source = ROOT / "node_modules/@tabler/icons/icons/outline"
    if not source.is_dir():
        pytest.skip("node_modules not installed")
    assert [name for name in listed_icons() if not (source / f"{name}.svg").exists()] == []


def test_the_built_sprite_holds_every_listed_icon_and_no_more():
    sprite = ROOT / "static" / SPRITE
    if not sprite.exists():
        pytest.skip("static/vendor not built (scripts/build_assets.sh)")
    ids = re.findall(r'<symbol id="([^"]+)"', sprite.read_text())
    assert ids == listed_icons()
    assert (sprite.parent / "LICENSE").exists()


def test_icon_tag_draws_the_sprites_symbol_in_the_texts_colour():
    html = Template('{% load icons %}{% icon "home" "big" %}|{% icon "x" "" "关闭" %}').render(Context())
    decorative, labelled = html.split("|")
    assert 'class="icon big"' in decorative and 'aria-hidden="true"' in decorative
    assert re.search(r'<use href="/static/vendor/tabler/icons[^"]*\.svg#home">', decorative)
    assert 'role="img" aria-label="关闭"' in labelled


def test_shop_templates_draw_icons_not_unicode_glyphs():
    found = [f"{name}: {GLYPHS.findall(text)}" for name, text in shop_templates()
             if GLYPHS.search(text) and name not in GLYPH_EXCEPTIONS]
    assert found == []
