"""门店相册 in a phone's browser (390 px): a manager uploads three photos at once on the settings
page, moves one, deletes one through the confirmation dialog; the shopper's store page shows the
gallery as a strip swiped inside its own box. Neither page scrolls sideways. Screenshots under
var/test-artifacts/screenshots/store-photos-*.png."""

import pytest
from django.conf import settings as dj_settings
from django.test import Client
from django.urls import clear_url_caches
from PIL import Image, ImageDraw

from stores.models import StorePhoto, StoreStaff

from .conftest import make_staff, make_store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE_WIDTH = "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"


@pytest.fixture
def media_urls(settings):
    settings.ROOT_URLCONF = "tests.stores.urls_with_media"
    clear_url_caches()
    yield
    clear_url_caches()


def shop_picture(path, base, accent, size=(1200, 900)):
    """A shop-front-like picture: a gradient wall, a sign, a door and a window."""
    image = Image.new("RGB", size, base)
    draw = ImageDraw.Draw(image)
    w, h = size
    for y in range(h):
        shade = int(60 * y / h)
        draw.line([(0, y), (w, y)], fill=tuple(max(0, c - shade) for c in base))
    draw.rectangle([w * 0.1, h * 0.08, w * 0.9, h * 0.25], fill=accent)
    draw.rectangle([w * 0.15, h * 0.4, w * 0.4, h * 0.95], fill=(60, 40, 30))
    draw.rectangle(
        [w * 0.5, h * 0.4, w * 0.85, h * 0.7], fill=(200, 230, 250), outline=(80, 80, 80), width=12
    )
    image.save(path, "JPEG", quality=85)
    return str(path)


def test_a_manager_builds_the_gallery_and_the_shopper_swipes_it(
    live_server, page, screenshot, media_urls, tmp_path
):
    store = make_store("静安寺店", code="jingan")
    manager = make_staff(store, role=StoreStaff.Role.MANAGER, username="photo-manager")
    client = Client()
    client.force_login(manager)
    page.context.add_cookies(
        [
            {
                "name": dj_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[dj_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    files = [
        shop_picture(tmp_path / "门头.jpg", (230, 120, 60), (200, 30, 40)),
        shop_picture(tmp_path / "店内.jpg", (90, 150, 200), (250, 200, 60)),
        shop_picture(tmp_path / "自提柜.jpg", (120, 180, 120), (40, 90, 160)),
    ]

    page.goto(f"{live_server.url}/backoffice/stores/settings/?store={store.pk}")
    section = page.locator("[data-testid=store-photos]")
    section.locator("input[type=file]").set_input_files(files)
    section.locator("input[name=caption]").fill("开业新装")
    section.get_by_role("button", name="上传照片").click()
    page.get_by_text("已上传 3 张照片").wait_for()
    assert section.locator("[data-testid=store-photo]").count() == 3

    # the third to the front, then the (new) second becomes the cover
    section.locator("[data-testid=store-photo]").nth(2).get_by_role("button", name="上移").click()
    page.get_by_text("照片顺序已调整").wait_for()
    section.locator("[data-testid=store-photo]").nth(1).get_by_role("button", name="设为封面").click()
    page.get_by_text("已设为门店封面").wait_for()
    section.locator("[data-testid=store-photo]").nth(0).locator("input[name=caption]").fill(
        "自提柜在门口右侧"
    )
    section.locator("[data-testid=store-photo]").nth(0).get_by_role("button", name="保存说明").click()
    page.get_by_text("照片说明已保存").wait_for()
    assert page.evaluate(PAGE_WIDTH) <= 390
    # the tiles are the small thumbnails the worker made after the upload, each linking the original
    tiles = section.locator(".store-photo__image img")
    page.wait_for_function("() => [...document.images].every((img) => img.complete && img.naturalWidth > 0)")
    assert tiles.evaluate_all("(imgs) => imgs.map((img) => [img.naturalWidth, img.naturalHeight])") == [[400, 300]] * 3
    section.scroll_into_view_if_needed()
    screenshot("store-photos-backoffice-390")

    # delete asks first; 再想想 keeps the photo
    last = section.locator("[data-testid=store-photo]").nth(2)
    last.get_by_role("button", name="删除").click()
    page.locator(".obo-dialog").wait_for()
    page.get_by_role("button", name="再想想").click()
    assert StorePhoto.objects.filter(store=store).count() == 3
    last.get_by_role("button", name="删除").click()
    page.locator(".obo-dialog [data-dialog-ok]").click()
    page.get_by_text("照片已删除").wait_for()
    captions = list(StorePhoto.objects.filter(store=store).values_list("caption", flat=True))
    assert captions == ["自提柜在门口右侧", "开业新装"]

    # the shopper's page: the cover at the top, the photos in a strip that scrolls inside itself
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/stores/{store.pk}/")
    strip = page.locator(".stores-gallery__strip")
    assert strip.locator("img").count() == 2
    page.wait_for_function("() => [...document.images].every((img) => img.complete && img.naturalWidth > 0)")
    assert page.evaluate(PAGE_WIDTH) <= 390
    assert strip.evaluate("(el) => getComputedStyle(el).overflowX") == "auto"
    # a phone downloads the 750-px strip thumbnails (and the cover's), the originals only when tapped
    shown = strip.locator("img").evaluate_all(
        "(imgs) => imgs.map((img) => [img.naturalWidth, img.naturalHeight, img.width > 0,"
        " img.getAttribute('width'), img.closest('a').href !== img.src])"
    )
    assert shown == [[750, 562, True, "750", True]] * 2
    cover = page.locator(".stores-cover img")
    assert cover.evaluate("(img) => [img.naturalWidth, img.getAttribute('height')]") == [750, "562"]
    screenshot("store-photos-shop-390")
