"""门店相册 (issue 11, item 7): a manager (or HQ) uploads, captions, orders, picks the cover from and
deletes their store's photos on the settings page; the store page shows them. Files go through
core.images; a refused file leaves no file; another store's photo is 404 and a clerk gets 403,
with nothing changed; a double submit is harmless."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from stores import photos as photo_services
from stores.models import STORE_PHOTO_LIMIT, Store, StorePhoto
from tests.forms import form_data

pytestmark = pytest.mark.django_db

SETTINGS = reverse("stores_bo:settings")
UPLOAD = reverse("stores_bo:photo_upload")
ACTIONS = {
    "caption": (reverse("stores_bo:photo_caption"), {"caption": "新说明"}),
    "move": (reverse("stores_bo:photo_move"), {"to": "0"}),
    "cover": (reverse("stores_bo:photo_cover"), {}),
    "delete": (reverse("stores_bo:photo_delete"), {}),
}


def picture(name="shop.png", color=(200, 80, 40), size=(64, 48), fmt="PNG", **save):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt, **save)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def add_photos(store, n, *, by, start=0):
    files = [picture(f"p{i}.png", color=(i * 20 % 256, 100, 200 - i * 10)) for i in range(start, start + n)]
    added, _skipped = photo_services.add_store_photos(store, files, by=by)
    return added


def media_files(settings):
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def snapshot(*stores):
    rows = list(StorePhoto.objects.filter(store__in=stores).order_by("pk").values())
    covers = list(
        Store.objects.filter(pk__in=[s.pk for s in stores]).order_by("pk").values_list("cover", flat=True)
    )
    return rows, covers


def page_messages(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- upload ----------------------------------------------------------------------------------------
def test_a_manager_uploads_photos_cleaned_and_in_order(client, manager_a, store_a, settings):
    client.force_login(manager_a)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # a camera maker that must not survive
    photo_with_exif = picture("门头.jpg", fmt="JPEG", exif=exif.tobytes())
    response = client.post(
        UPLOAD,
        {
            "store": store_a.pk,
            "photos": [photo_with_exif, picture("inside.gif", fmt="GIF")],
            "caption": "店内",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0].endswith(f"?store={store_a.pk}#store-photos")
    assert "已上传 2 张照片" in page_messages(response)
    photos = list(StorePhoto.objects.filter(store=store_a))
    assert [(p.position, p.caption) for p in photos] == [(0, "店内"), (1, "店内")]
    assert photos[0].image.name.endswith(".jpg") and photos[1].image.name.endswith(".png")  # GIF → PNG
    assert (photos[0].width, photos[0].height) == (64, 48) and len(photos[0].digest) == 64
    with Image.open(photos[0].image.path) as stored:
        assert not stored.getexif()
    assert len(media_files(settings)) == 2
    html = response.content.decode()
    assert html.count('data-testid="store-photo"') == 2 and "2/9" in html


def test_the_store_page_shows_the_gallery_in_one_query(client, manager_a, store_a):
    add_photos(store_a, 1, by=manager_a)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("stores:detail", args=[store_a.pk]))
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode()

    one, html = queries()
    assert html.count('class="stores-gallery__item"') == 1
    add_photos(store_a, STORE_PHOTO_LIMIT - 1, by=manager_a, start=1)
    StorePhoto.objects.filter(store=store_a, position=3).update(caption="<b>收银台</b>")
    full, html = queries()
    assert one == full == 4  # the store, its hours, its stock page, its photos
    assert html.count('class="stores-gallery__item"') == STORE_PHOTO_LIMIT
    assert "&lt;b&gt;收银台&lt;/b&gt;" in html and "<b>收银台" not in html
    assert 'loading="lazy"' in html and "<script>" not in html


def test_a_store_without_photos_shows_no_gallery(client, store_a):
    html = client.get(reverse("stores:detail", args=[store_a.pk])).content.decode()
    assert "stores-gallery" not in html


def test_bad_files_are_refused_with_a_reason_and_leave_no_file(client, manager_a, store_a, settings):
    client.force_login(manager_a)
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")  # 100 million pixels in about 12 KB
    huge = b"\xff\xd8\xff\xe0" + b"\0" * (10 * 1024 * 1024)
    cases = [
        (
            SimpleUploadedFile("menu.pdf", b"%PDF-1.4 not a picture"),
            "menu.pdf：只能上传 JPEG、PNG、WebP 或 GIF 图片",
        ),
        (SimpleUploadedFile("bomb.png", bomb.getvalue()), "bomb.png：图片像素过多：最多 3600 万像素"),
        (SimpleUploadedFile("huge.jpg", huge), "huge.jpg：图片不能超过 10 MB"),
        (SimpleUploadedFile("cut.png", picture().read()[:60]), "cut.png：图片文件不完整或已损坏，请重新上传"),
    ]
    for upload, message in cases:
        response = client.post(UPLOAD, {"store": store_a.pk, "photos": [upload]}, follow=True)
        assert response.status_code == 200
        assert any(m.startswith(message) for m in page_messages(response)), (message, page_messages(response))
    # one bad file among good ones: none is added
    pdf = SimpleUploadedFile("menu.pdf", b"%PDF-1.4 not a picture")
    response = client.post(UPLOAD, {"store": store_a.pk, "photos": [picture(), pdf]}, follow=True)
    assert page_messages(response) == ["menu.pdf：只能上传 JPEG、PNG、WebP 或 GIF 图片"]
    response = client.post(UPLOAD, {"store": store_a.pk}, follow=True)  # nothing chosen
    assert any("必填" in m for m in page_messages(response)), page_messages(response)
    assert not StorePhoto.objects.exists() and media_files(settings) == []


def test_a_double_submit_adds_the_picture_once(client, manager_a, store_a):
    client.force_login(manager_a)
    data = {"store": store_a.pk, "photos": [picture("a.png")]}
    client.post(UPLOAD, data)
    response = client.post(UPLOAD, {"store": store_a.pk, "photos": [picture("a-again.png")]}, follow=True)
    assert StorePhoto.objects.filter(store=store_a).count() == 1
    assert "1 张照片已在相册中，未重复添加" in page_messages(response)


def test_the_limit_refuses_the_whole_upload_with_a_clear_message(client, manager_a, store_a, settings):
    add_photos(store_a, STORE_PHOTO_LIMIT - 1, by=manager_a)
    files = media_files(settings)
    client.force_login(manager_a)
    two = [picture("x.png", color=(1, 2, 3)), picture("y.png", color=(4, 5, 6))]
    response = client.post(UPLOAD, {"store": store_a.pk, "photos": two}, follow=True)
    assert "门店相册最多 9 张照片，还可以上传 1 张" in page_messages(response)
    assert (
        StorePhoto.objects.filter(store=store_a).count() == STORE_PHOTO_LIMIT - 1
        and media_files(settings) == files
    )
    response = client.post(
        UPLOAD, {"store": store_a.pk, "photos": [picture("x.png", color=(1, 2, 3))]}, follow=True
    )
    assert StorePhoto.objects.filter(store=store_a).count() == STORE_PHOTO_LIMIT
    html = response.content.decode()
    assert "相册已满" in html and 'data-testid="photo-upload"' not in html
    response = client.post(
        UPLOAD, {"store": store_a.pk, "photos": [picture("z.png", color=(9, 9, 9))]}, follow=True
    )
    assert "门店相册最多 9 张照片，还可以上传 0 张" in page_messages(response)
    many = [picture(f"m{i}.png", color=(i, i, i)) for i in range(STORE_PHOTO_LIMIT + 1)]
    response = client.post(UPLOAD, {"store": store_a.pk, "photos": many}, follow=True)
    assert "一次最多上传 9 张照片" in page_messages(response)
    assert StorePhoto.objects.filter(store=store_a).count() == STORE_PHOTO_LIMIT


# --- scope and roles ---------------------------------------------------------------------------------
def test_another_stores_photos_are_404_and_nothing_changes(
    client, manager_a, hq_user, store_a, store_b, settings
):
    add_photos(store_a, 1, by=manager_a)
    theirs = add_photos(store_b, 2, by=hq_user)
    before, files = snapshot(store_a, store_b), media_files(settings)
    client.force_login(manager_a)
    for name, (url, extra) in ACTIONS.items():
        response = client.post(url, {"photo": theirs[1].pk, "store": store_a.pk, **extra})
        assert response.status_code == 404, name
    assert (
        client.post(UPLOAD, {"store": store_b.pk, "photos": [picture("x.png", color=(7, 7, 7))]}).status_code
        == 404
    )
    assert snapshot(store_a, store_b) == before and media_files(settings) == files


@pytest.mark.parametrize(
    "raw", ["", "abc", "²", "١", "１", "-1", "0", "9" * 30, "9223372036854775808", "3.0", " "]
)
def test_bad_ids_are_404_never_500(client, manager_a, store_a, raw):
    add_photos(store_a, 1, by=manager_a)
    before = snapshot(store_a)
    client.force_login(manager_a)
    for url, extra in ACTIONS.values():
        assert client.post(url, {"photo": raw, **extra}).status_code == 404
    response = client.post(UPLOAD, {"store": raw, "photos": [picture("x.png", color=(7, 7, 7))]})
    assert response.status_code == 404
    assert snapshot(store_a) == before


def test_a_nul_or_a_bad_position_changes_nothing(client, manager_a, store_a):
    photos = add_photos(store_a, 2, by=manager_a)
    before = snapshot(store_a)
    client.force_login(manager_a)
    move = ACTIONS["move"][0]
    assert client.post(move, {"photo": f"{photos[1].pk}\x00", "to": "0"}).status_code == 400
    for to in ["", "x", "²", "-1", "9" * 30]:
        response = client.post(move, {"photo": photos[1].pk, "to": to}, follow=True)
        assert "位置无效，请刷新后重试" in page_messages(response)
    assert snapshot(store_a) == before


def test_a_clerk_or_a_shopper_gets_403_and_nothing_changes(client, clerk_a, manager_a, store_a, settings):
    from django.contrib.auth import get_user_model

    photos = add_photos(store_a, 2, by=manager_a)
    before, files = snapshot(store_a), media_files(settings)
    shopper = get_user_model().objects.create_user("shopper")
    for user in (clerk_a, shopper):
        client.force_login(user)
        for name, (url, extra) in ACTIONS.items():
            assert client.post(url, {"photo": photos[1].pk, **extra}).status_code == 403, name
        response = client.post(UPLOAD, {"store": store_a.pk, "photos": [picture("x.png", color=(7, 7, 7))]})
        assert response.status_code == 403
    assert snapshot(store_a) == before and media_files(settings) == files
    # the clerk sees the photos, without the forms that change them
    client.force_login(clerk_a)
    html = client.get(SETTINGS).content.decode()
    assert (
        html.count('data-testid="store-photo"') == 2 and "photo-upload" not in html and "设为封面" not in html
    )
    with pytest.raises(photo_services.PhotoError):
        photo_services.delete_photo(photos[0], by=clerk_a)
    assert client.get(ACTIONS["delete"][0]).status_code == 405


# --- caption, order, cover, delete ------------------------------------------------------------------
def test_caption_is_saved_cleaned(client, manager_a, store_a):
    photo = add_photos(store_a, 1, by=manager_a)[0]
    client.force_login(manager_a)
    url = ACTIONS["caption"][0]
    response = client.post(
        url, {"photo": photo.pk, "caption": "  门头\t夜景\u200b " + "长" * 100}, follow=True
    )
    assert "照片说明已保存" in page_messages(response)
    photo.refresh_from_db()
    assert photo.caption.startswith("门头 夜景") and len(photo.caption) == 60
    client.post(url, {"photo": photo.pk, "caption": ""})
    photo.refresh_from_db()
    assert photo.caption == ""


def test_moving_a_photo_is_to_a_place_so_a_double_submit_moves_it_once(client, manager_a, store_a):
    first, second, third = add_photos(store_a, 3, by=manager_a)
    client.force_login(manager_a)
    url = ACTIONS["move"][0]

    def order():
        return list(StorePhoto.objects.filter(store=store_a).values_list("pk", flat=True))

    for _ in range(2):  # 上移 the third, twice the same form
        response = client.post(url, {"photo": third.pk, "to": "1"}, follow=True)
    assert "照片顺序已调整" in page_messages(response)
    assert order() == [first.pk, third.pk, second.pk]
    client.post(url, {"photo": first.pk, "to": "1"})  # 下移
    assert order() == [third.pk, first.pk, second.pk]
    client.post(url, {"photo": second.pk, "to": "99"})  # past the end: last
    assert order() == [third.pk, first.pk, second.pk]
    assert list(StorePhoto.objects.filter(store=store_a).values_list("position", flat=True)) == [0, 1, 2]
    html = client.get(SETTINGS).content.decode()
    assert html.count("上移") == 2 and html.count("下移") == 2  # none on the first's up and the last's down


def test_set_as_cover_and_delete_with_confirmation(
    client, manager_a, store_a, settings, django_capture_on_commit_callbacks
):
    keep, cover, gone = add_photos(store_a, 3, by=manager_a)
    client.force_login(manager_a)
    response = client.post(ACTIONS["cover"][0], {"photo": cover.pk}, follow=True)
    assert "已设为门店封面" in page_messages(response)
    assert Store.objects.get(pk=store_a.pk).cover.name == cover.image.name
    html = response.content.decode()
    assert html.count(">封面<") == 1 and html.count("设为封面") == 2
    assert 'data-confirm="确定删除这张照片？删除后顾客将看不到它。"' in html
    shop = client.get(reverse("stores:detail", args=[store_a.pk])).content.decode()
    assert f'src="{cover.image.url}"' in shop.split("stores-gallery")[0]  # the cover at the top

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ACTIONS["delete"][0], {"photo": gone.pk}, follow=True)
    assert "照片已删除" in page_messages(response)
    assert not StorePhoto.objects.filter(pk=gone.pk).exists()
    assert gone.image.name not in media_files(settings)
    # a double submit (or back and resubmit): the album again with a message, nothing else changes
    before = snapshot(store_a)
    response = client.post(ACTIONS["delete"][0], {"photo": gone.pk, "store": store_a.pk}, follow=True)
    assert response.status_code == 200 and page_messages(response) == ["这张照片已经删除了"]
    assert response.redirect_chain[-1][0].endswith(f"?store={store_a.pk}#store-photos")
    assert client.post(ACTIONS["delete"][0], {"photo": gone.pk}).status_code == 404  # no store named
    assert snapshot(store_a) == before
    # the cover's photo: deleted from the gallery, its file kept for the cover
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ACTIONS["delete"][0], {"photo": cover.pk})
    assert cover.image.name in media_files(settings)
    assert list(StorePhoto.objects.filter(store=store_a).values_list("pk", flat=True)) == [keep.pk]


def test_hq_manages_any_stores_photos(client, hq_user, store_b):
    client.force_login(hq_user)
    client.post(UPLOAD, {"store": store_b.pk, "photos": [picture()]})
    photo = StorePhoto.objects.get(store=store_b)
    assert client.post(ACTIONS["caption"][0], {"photo": photo.pk, "caption": "总部改的"}).status_code == 302
    assert StorePhoto.objects.get(pk=photo.pk).caption == "总部改的"


# --- round trips -------------------------------------------------------------------------------------
def test_the_settings_form_of_a_store_with_photos_saves_unchanged(client, manager_a, store_a, settings):
    add_photos(store_a, 2, by=manager_a)
    client.force_login(manager_a)
    page = client.get(SETTINGS, {"store": store_a.pk})
    data = {
        k: v[0] if len(v) == 1 else v for k, v in form_data(page.content.decode(), "store-settings").items()
    }
    before, files = snapshot(store_a), media_files(settings)
    store_row = Store.objects.values().get(pk=store_a.pk)
    response = client.post(SETTINGS, data, follow=True)
    assert "门店设置已保存：A店" in page_messages(response)
    after_row = Store.objects.values().get(pk=store_a.pk)
    store_row.pop("updated_at"), after_row.pop("updated_at")
    assert snapshot(store_a) == before and after_row == store_row and media_files(settings) == files


def test_the_admin_change_form_of_a_store_with_photos_saves_unchanged(
    client, django_user_model, store_a, settings
):
    admin = django_user_model.objects.create_superuser("root", password="pw-123456")
    add_photos(store_a, 2, by=admin)
    client.force_login(admin)
    url = reverse("admin:stores_store_change", args=[store_a.pk])
    page = client.get(url)
    assert page.status_code == 200 and "门店相册" in page.content.decode()
    data = form_data(page.content.decode(), "store_form")
    assert data["photos-INITIAL_FORMS"] == ["2"]
    before, files = snapshot(store_a), media_files(settings)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert snapshot(store_a) == before and media_files(settings) == files
    # a caption changed there is saved, the file left alone
    data["photos-0-caption"] = ["后台说明"]
    assert client.post(url, data).status_code == 302
    assert (
        StorePhoto.objects.filter(store=store_a, caption="后台说明").count() == 1
        and media_files(settings) == files
    )


def test_acting_on_a_photo_deleted_meanwhile_shows_the_album_not_a_404(
    client, manager_a, clerk_a, store_a, store_b, hq_user
):
    keep, gone = add_photos(store_a, 2, by=manager_a)
    client.force_login(manager_a)
    html = client.get(f"{SETTINGS}?store={store_a.pk}").content.decode()
    # every form on a photo names its store, so a stale form still knows where to send the user
    assert html.count(f'<input type="hidden" name="photo" value="{keep.pk}"><input type="hidden" name="store" value="{store_a.pk}">') >= 3
    gone_pk = gone.pk
    gone.delete()
    before = snapshot(store_a, store_b)
    for name, (url, extra) in ACTIONS.items():
        response = client.post(url, {"photo": gone_pk, "store": store_a.pk, **extra}, follow=True)
        assert response.status_code == 200, name
        expected = "这张照片已经删除了" if name == "delete" else "这张照片已不在相册中，请看刷新后的相册"
        assert page_messages(response) == [expected], name
        # naming a store that is not the user's is 404, as any out-of-scope id
        assert client.post(url, {"photo": gone_pk, "store": store_b.pk, **extra}).status_code == 404, name
    # a clerk of the store may not change photos, gone or not
    client.force_login(clerk_a)
    for name, (url, extra) in ACTIONS.items():
        assert client.post(url, {"photo": gone_pk, "store": store_a.pk, **extra}).status_code == 403, name
    assert snapshot(store_a, store_b) == before


# --- thumbnails ----------------------------------------------------------------------------------------
def big_picture(name="front.jpg", color=(200, 80, 40), size=(1600, 1200)):
    """A photo like a phone's: large, with detail (so that its thumbnails are real work)."""
    buffer = io.BytesIO()
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 100):
        image.paste((x % 255, 120, 255 - x % 255), (x, 0, x + 50, size[1]))
    image.save(buffer, "JPEG", quality=90)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def add_big(store, *, by, **kwargs):
    added, _skipped = photo_services.add_store_photos(store, [big_picture(**kwargs)], by=by)
    return added[0]


def thumbnail_sources():
    from easy_thumbnails.models import Source

    return sorted(Source.objects.values_list("name", flat=True))


def test_thumbnails_are_made_after_commit_with_their_sizes(
    manager_a, store_a, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as after_commit:
        wide = add_big(store_a, by=manager_a)
        tall = add_big(store_a, by=manager_a, name="tall.jpg", color=(20, 90, 160), size=(1200, 1600))
    # nothing resized in the request: until the worker runs, pages show the originals
    wide.refresh_from_db()
    assert wide.thumbnails == {} and wide.as_strip == (wide.image.url, 1600, 1200)
    assert len(after_commit) == 2 and media_files(settings) == sorted([wide.image.name, tall.image.name])
    for callback in after_commit:
        callback()
    wide.refresh_from_db()
    tall.refresh_from_db()
    assert wide.thumbnails["source"] == wide.image.name
    assert (wide.as_strip.width, wide.as_strip.height) == (750, 562)  # the whole picture, 750 px at most
    assert (tall.as_strip.width, tall.as_strip.height) == (562, 750)
    assert (wide.as_thumb.width, wide.as_thumb.height) == (tall.as_thumb.width, tall.as_thumb.height) == (400, 300)
    files = media_files(settings)
    assert len(files) == 6 and set(photo_services.thumbnails.names(wide.thumbnails)) < set(files)
    for entry in ("strip", "thumb"):
        with Image.open(Path(settings.MEDIA_ROOT) / wide.thumbnails[entry]["name"]) as made:
            assert made.size == (wide.thumbnails[entry]["width"], wide.thumbnails[entry]["height"])
        assert wide.thumb(entry).url == settings.MEDIA_URL + wide.thumbnails[entry]["name"]


def test_making_thumbnails_again_changes_nothing(manager_a, store_a, settings, django_capture_on_commit_callbacks):
    from stores import tasks

    with django_capture_on_commit_callbacks(execute=True):
        photo = add_big(store_a, by=manager_a)
    photo.refresh_from_db()
    made, files = photo.thumbnails, media_files(settings)
    stamps = {name: (Path(settings.MEDIA_ROOT) / name).stat().st_mtime_ns for name in files}
    assert tasks.make_photo_thumbnails(photo.pk) is False
    assert tasks.make_photo_thumbnails.delay(photo.pk).get() is False  # through Celery (eager in tests)
    with django_capture_on_commit_callbacks(execute=True):
        photo.caption = "改了说明"
        photo.save()  # a save that keeps the file asks for nothing
    photo.refresh_from_db()
    assert photo.thumbnails == made and media_files(settings) == files
    assert {name: (Path(settings.MEDIA_ROOT) / name).stat().st_mtime_ns for name in files} == stamps


def test_the_pages_show_thumbnails_and_link_the_original(
    client, django_user_model, manager_a, store_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        photos = [add_big(store_a, by=manager_a, color=(i * 60, 90, 90)) for i in range(3)]
    for photo in photos:
        photo.refresh_from_db()
    with CaptureQueriesContext(connection) as ctx:
        shop = client.get(reverse("stores:detail", args=[store_a.pk])).content.decode()
    assert len(ctx.captured_queries) == 4  # as without thumbnails: they come with the photos' query
    for photo in photos:
        strip = photo.as_strip
        assert (
            f'<a href="{photo.image.url}" target="_blank" rel="noopener">\n        <img src="{strip.url}" '
            in shop
        )
        assert f'width="{strip.width}" height="{strip.height}"' in shop
        assert f'src="{photo.image.url}"' not in shop
    # the back office's tiles and the admin's previews: the small cropped thumbnail
    client.force_login(manager_a)
    office = client.get(SETTINGS, {"store": store_a.pk}).content.decode()
    admin = django_user_model.objects.create_superuser("root", password="pw-123456")
    client.force_login(admin)
    change = client.get(reverse("admin:stores_store_change", args=[store_a.pk])).content.decode()
    for photo in photos:
        tile = photo.as_thumb
        assert f'href="{photo.image.url}"' in office and f'<img src="{tile.url}" alt="" width="400" height="300"' in office
        assert f'src="{tile.url}"' in change and f'src="{photo.image.url}"' not in change
        assert f'src="{photo.image.url}"' not in office


def test_deleting_a_photo_removes_its_thumbnails_too(
    client, manager_a, store_a, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        keep = add_big(store_a, by=manager_a)
        gone = add_big(store_a, by=manager_a, color=(10, 200, 10))
    keep.refresh_from_db()
    kept = sorted([keep.image.name, *photo_services.thumbnails.names(keep.thumbnails)])
    assert len(media_files(settings)) == 6
    client.force_login(manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ACTIONS["delete"][0], {"photo": gone.pk})
    assert media_files(settings) == kept and thumbnail_sources() == [keep.image.name]
    with django_capture_on_commit_callbacks(execute=True):
        store_a.delete()  # a store deleted takes its photos, their files and thumbnails with it
    assert media_files(settings) == [] and thumbnail_sources() == []


def test_the_cover_shows_its_photos_thumbnail_and_keeps_its_files(
    client, manager_a, store_a, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = add_big(store_a, by=manager_a)
        second = add_big(store_a, by=manager_a, color=(10, 10, 200))
    first.refresh_from_db()
    second.refresh_from_db()
    client.force_login(manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ACTIONS["cover"][0], {"photo": first.pk})
    store = Store.objects.get(pk=store_a.pk)
    assert store.cover_thumbnails == {"source": first.image.name, "strip": first.thumbnails["strip"]}
    cover = store.cover_image
    top = client.get(reverse("stores:detail", args=[store_a.pk])).content.decode().split("stores-gallery")[0]
    assert f'<img src="{cover.url}" width="750" height="562" alt="">' in top
    # the cover's photo deleted: its file and thumbnails stay while the cover shows them
    files = media_files(settings)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ACTIONS["delete"][0], {"photo": first.pk})
    assert media_files(settings) == files
    assert Store.objects.get(pk=store_a.pk).cover_image == cover
    # another cover: the one before, named by nothing now, goes with its thumbnails
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ACTIONS["cover"][0], {"photo": second.pk})
    left = sorted([second.image.name, *photo_services.thumbnails.names(second.thumbnails)])
    assert media_files(settings) == left and thumbnail_sources() == [second.image.name]
    assert Store.objects.get(pk=store_a.pk).cover_image.url == second.as_strip.url


def test_a_cover_picked_before_its_photos_thumbnails_exist_gets_them_when_made(
    manager_a, store_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as upload:
        photo = add_big(store_a, by=manager_a)
    with django_capture_on_commit_callbacks() as picked:
        photo_services.set_cover(photo, by=manager_a)
    store = Store.objects.get(pk=store_a.pk)
    assert store.cover_thumbnails == {} and store.cover_image.url == photo.image.url  # the original meanwhile
    for callback in upload:  # the photo's worker: the cover takes its strip thumbnail
        callback()
    photo.refresh_from_db()
    store.refresh_from_db()
    assert store.cover_thumbnails == {"source": photo.image.name, "strip": photo.thumbnails["strip"]}
    for callback in picked:  # the cover's own worker, later: nothing left to do
        callback()
    assert Store.objects.get(pk=store_a.pk).cover_thumbnails == store.cover_thumbnails


def test_an_uploaded_cover_gets_its_thumbnail_and_a_cleared_one_forgets_it(
    client, store_a, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        store_a.cover = big_picture("cover.jpg")
        store_a.save()
    store = Store.objects.get(pk=store_a.pk)
    assert store.cover_thumbnails["source"] == store.cover.name
    assert (store.cover_image.width, store.cover_image.height) == (750, 562)
    top = client.get(reverse("stores:detail", args=[store_a.pk])).content.decode().split("stores-gallery")[0]
    assert f'src="{store.cover_image.url}"' in top and f'src="{store.cover.url}"' not in top
    asked = []
    monkeypatch.setattr(photo_services, "enqueue_cover_thumbnails", asked.append)
    with django_capture_on_commit_callbacks(execute=True):
        store.phone = "021-1"
        store.save()  # the cover as it was: nothing to do
    assert asked == [] and Store.objects.get(pk=store_a.pk).cover_thumbnails == store.cover_thumbnails
    store.cover = ""
    store.save()
    assert Store.objects.get(pk=store_a.pk).cover_thumbnails == {}
    assert "stores-cover\">\n  \n" in client.get(reverse("stores:detail", args=[store_a.pk])).content.decode()


def test_a_photo_deleted_before_or_while_its_thumbnails_are_made_leaves_none(
    manager_a, store_a, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from stores import tasks

    with django_capture_on_commit_callbacks() as pending:
        before = add_big(store_a, by=manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        photo_services.delete_photo(before, by=manager_a)
    for callback in pending:  # the worker comes late
        callback()
    assert tasks.make_photo_thumbnails(before.pk) is False
    assert media_files(settings) == [] and thumbnail_sources() == []

    with django_capture_on_commit_callbacks() as pending:
        during = add_big(store_a, by=manager_a, color=(1, 2, 3))
    real_make = photo_services.thumbnails.make

    def make_then_delete(fieldfile, options):
        info = real_make(fieldfile, options)
        with django_capture_on_commit_callbacks(execute=True):  # deleted while the worker resized it
            photo_services.delete_photo(during, by=manager_a)
        return info

    monkeypatch.setattr(photo_services.thumbnails, "make", make_then_delete)
    for callback in pending:
        callback()
    assert not StorePhoto.objects.exists()
    assert media_files(settings) == [] and thumbnail_sources() == []


def test_a_picture_that_cannot_be_resized_keeps_the_original_on_pages(
    client, manager_a, store_a, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(fieldfile, options):
        raise OSError("decoder error")

    monkeypatch.setattr(photo_services.thumbnails, "make", broken)
    with django_capture_on_commit_callbacks(execute=True):
        photo = add_big(store_a, by=manager_a)
    photo.refresh_from_db()
    assert photo.thumbnails == {} and StorePhoto.objects.filter(pk=photo.pk).exists()
    html = client.get(reverse("stores:detail", args=[store_a.pk])).content.decode()
    assert f'<img src="{photo.image.url}" alt="A店" width="1600" height="1200"' in html


def test_thumbnails_are_made_in_place_when_the_broker_is_down(
    manager_a, store_a, monkeypatch, django_capture_on_commit_callbacks
):
    from stores import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.make_photo_thumbnails, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        photo = add_big(store_a, by=manager_a)
    photo.refresh_from_db()
    assert photo.as_strip.width == 750


def test_a_photo_added_in_the_admin_gets_thumbnails(
    client, django_user_model, store_a, django_capture_on_commit_callbacks
):
    admin = django_user_model.objects.create_superuser("root", password="pw-123456")
    client.force_login(admin)
    url = reverse("admin:stores_store_change", args=[store_a.pk])
    data = form_data(client.get(url).content.decode(), "store_form")
    data["photos-TOTAL_FORMS"] = ["1"]
    data.update({"photos-0-caption": ["后台上传"], "photos-0-position": ["0"], "photos-0-image": big_picture()})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    photo = StorePhoto.objects.get(store=store_a)
    assert photo.caption == "后台上传" and photo.as_thumb.width == 400


def test_photos_and_covers_without_thumbnails_get_them_from_the_command(manager_a, store_a, store_b):
    from io import StringIO

    from django.core.management import call_command

    photo = add_big(store_a, by=manager_a)  # its worker never ran (no commit in this test)
    photo_services.set_cover(photo, by=manager_a)
    store_b.cover = big_picture("uploaded.jpg", color=(0, 90, 0))
    store_b.save()
    out = StringIO()
    call_command("make_store_thumbnails", stdout=out)
    assert "Thumbnails made for 1 store photo(s) and 1 cover(s)." in out.getvalue()  # store_a's: from its photo
    photo.refresh_from_db()
    assert photo.as_strip.width == 750 and Store.objects.get(pk=store_a.pk).cover_image == photo.as_strip
    assert Store.objects.get(pk=store_b.pk).cover_image.width == 750
    call_command("make_store_thumbnails", stdout=out)
    assert "Thumbnails made for 0 store photo(s) and 0 cover(s)." in out.getvalue()


def test_a_cover_replaced_or_cleared_in_a_form_leaves_no_old_file_unless_a_photo_shows_it(
    manager_a, store_a, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        store_a.cover = big_picture("first.jpg")
        store_a.save()
    store = Store.objects.get(pk=store_a.pk)
    first, first_thumb = store.cover.name, store.cover_thumbnails["strip"]["name"]
    assert {first, first_thumb} <= set(media_files(settings))
    with django_capture_on_commit_callbacks(execute=True):
        store.cover = big_picture("second.jpg", color=(9, 90, 9))
        store.save()  # the settings form or the admin replacing it
    store = Store.objects.get(pk=store_a.pk)
    files = set(media_files(settings))
    assert first not in files and first_thumb not in files
    assert store.cover.name in files and store.cover_thumbnails["strip"]["name"] in files

    # a cover picked from the gallery, then cleared: the photo keeps its file
    with django_capture_on_commit_callbacks(execute=True):
        (photo,) = add_photos(store_a, 1, by=manager_a)
        photo_services.set_cover(photo, by=manager_a)
    store = Store.objects.get(pk=store_a.pk)
    with django_capture_on_commit_callbacks(execute=True):
        store.cover = ""
        store.save()
    assert photo.image.name in media_files(settings)
