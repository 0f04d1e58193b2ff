"""Demo home page: three banners (a coupon, a product, a category), a notice, six featured
products and the search page's hot words, as HQ would arrange them in 首页装修.

Idempotent: banners are found by title, the notice by its text, featured products by product and
hot words by word, so a second run creates nothing. Runs after catalog.demo and marketing.demo
(the banners link to their products and coupons). Images are drawn with Pillow, nothing is
downloaded.
"""

import hashlib
import io

from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from catalog.demo_art import font as _font
from catalog.models import Category, FeaturedProduct, HotSearchWord, Product

from .models import Banner, Coupon, HomeNotice

# title -> (link kind, target name, colour, subtitle)
BANNERS = {
    "领券满100减10": (Banner.LinkKind.COUPON, "满100减10元券", (228, 57, 60), "新人好券 免费领取"),
    "每日坚果 健康早餐": (Banner.LinkKind.PRODUCT, "三只松鼠每日坚果", (230, 126, 34), "7种坚果 科学配比"),
    "名酒好礼 节日送礼": (Banner.LinkKind.CATEGORY, "酒水", (52, 73, 94), "正品保障 门店自提"),
}
NOTICE = "门店自提满39元免运费，下单后30分钟可取"
FEATURED = [
    "三只松鼠每日坚果", "百草味芒果干", "元气森林气泡水 480ml×15",
    "蒙牛纯牛奶 250ml×24盒", "五常大米稻花香", "雀巢咖啡1+2原味 15g×48条",
]
HOT_WORDS = ["坚果", "牛奶", "咖啡", "芒果干", "大米", "白酒"]


def banner_image(title, subtitle, colour):
    """A 750×320 JPEG: the colour, the title and a subtitle (when a CJK font is installed)."""
    image = Image.new("RGB", (750, 320), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((520, -80, 860, 260), fill=tuple(min(255, c + 30) for c in colour))
    big, small = _font(56), _font(30)
    if big is not None:
        draw.text((48, 96), title, fill=(255, 255, 255), font=big)
        draw.text((50, 184), subtitle, fill=(255, 240, 220), font=small)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _target(kind, name):
    if kind == Banner.LinkKind.COUPON:
        return {"coupon": Coupon.objects.filter(name=name).first()}
    if kind == Banner.LinkKind.PRODUCT:
        return {"product": Product.objects.filter(name=name).first()}
    return {"category": Category.objects.filter(name=name, parent__isnull=True).first()}


# what the HQ group (stores.scope.HQ_GROUP_NAME) needs for 首页装修; store roles get none of it
HOME_PERMISSIONS = [
    ("marketing", "banner"), ("marketing", "homenotice"), ("catalog", "featuredproduct"),
    ("catalog", "hotsearchword"),
]


def _hq_may_arrange_the_home_page():
    from django.contrib.auth.models import Group, Permission

    from stores.scope import HQ_GROUP_NAME

    group, _created = Group.objects.get_or_create(name=HQ_GROUP_NAME)
    wanted = Permission.objects.none()
    for app, model in HOME_PERMISSIONS:
        wanted |= Permission.objects.filter(content_type__app_label=app, codename__in=[
            f"{action}_{model}" for action in ("view", "add", "change", "delete")])
    # a category only for its place and icon in the grid (made and deleted in the catalogue admin)
    wanted |= Permission.objects.filter(content_type__app_label="catalog", codename__in=["view_category", "change_category"])
    missing = list(wanted.exclude(pk__in=group.permissions.values("pk")))
    group.permissions.add(*missing)
    return len(missing)


def seed(out):
    changed = 0
    for order, (title, (kind, name, colour, subtitle)) in enumerate(BANNERS.items()):
        if Banner.objects.filter(title=title).exists():
            continue
        target = _target(kind, name)
        if not all(target.values()):
            out(f"  home: {name} not found, banner {title} skipped")
            continue
        banner = Banner(title=title, link_kind=kind, sort_order=order * 10, **target)
        banner.image.save(f"demo-banner-{hashlib.md5(title.encode()).hexdigest()[:10]}.jpg",
                          ContentFile(banner_image(title, subtitle, colour)), save=False)
        banner.save()
        changed += 1
    if not HomeNotice.objects.filter(text=NOTICE).exists():
        HomeNotice.objects.create(text=NOTICE, link_path="/stores/")
        changed += 1
    for order, name in enumerate(FEATURED):
        product = Product.objects.filter(name=name).first()
        if product is not None and not FeaturedProduct.objects.filter(product=product).exists():
            FeaturedProduct.objects.create(product=product, sort_order=order * 10)
            changed += 1
    for order, word in enumerate(HOT_WORDS):
        _row, created = HotSearchWord.objects.get_or_create(word=word, defaults={"sort_order": order * 10})
        changed += int(created)
    changed += _hq_may_arrange_the_home_page()
    out(f"  home: {Banner.objects.count()} banners, {FeaturedProduct.objects.count()} featured, "
        f"{HotSearchWord.objects.count()} hot words")
    return changed
