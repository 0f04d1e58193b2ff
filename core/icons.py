"""The app's icon set: Tabler Icons (MIT, npm `@tabler/icons`), served by the app itself.

scripts/build_assets.sh reads scripts/icons.txt and packs only those outline icons into one SVG
sprite, static/vendor/tabler/icons.svg (one <symbol id="NAME"> each, drawn in currentColor);
templates draw one with `{% load icons %}{% icon "home" %}`. An icon used anywhere must be listed in
scripts/icons.txt (tests/core/test_icons.py checks the templates, the choices below and the sprite).
"""

from pathlib import Path

from django.utils.translation import gettext_lazy as _

SPRITE = "vendor/tabler/icons.svg"
ICON_LIST = Path(__file__).resolve().parents[1] / "scripts" / "icons.txt"

# what HQ may choose for a category of the home page's grid (when no image is uploaded)
CATEGORY_ICONS = [
    ("apple", _("水果")),
    ("carrot", _("蔬菜")),
    ("meat", _("肉类")),
    ("fish", _("水产")),
    ("egg", _("蛋类")),
    ("milk", _("乳品")),
    ("bread", _("烘焙")),
    ("cookie", _("零食")),
    ("candy", _("糖果")),
    ("coffee", _("咖啡茶饮")),
    ("bottle", _("饮料酒水")),
    ("ice-cream", _("冷饮")),
    ("salad", _("轻食")),
    ("pizza", _("速食")),
    ("cake", _("蛋糕")),
    ("leaf", _("生鲜")),
    ("basket", _("日用百货")),
    ("tools-kitchen-2", _("厨具")),
    ("shirt", _("服饰")),
    ("baby-carriage", _("母婴")),
    ("paw", _("宠物")),
    ("device-mobile", _("数码")),
    ("gift", _("礼品")),
]
CATEGORY_ICON_CHOICES = [(name, label) for name, label in CATEGORY_ICONS]


def listed_icons():
    """The names scripts/icons.txt asks the build to put in the sprite."""
    lines = ICON_LIST.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
