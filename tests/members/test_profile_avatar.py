import io

import pytest
from django.urls import reverse
from PIL import Image

from .factories import make_user

pytestmark = pytest.mark.django_db


def _png():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, "PNG")
    buf.seek(0)
    buf.name = "a.png"
    return buf


def _user_with_avatar(client):
    user = make_user(nickname="有头像")
    client.force_login(user)
    client.post(reverse("members:profile"), {"nickname": "有头像", "gender": "unknown", "avatar": _png()})
    user.refresh_from_db()
    assert user.avatar
    return user


def test_ticking_clear_removes_the_avatar(client):
    user = _user_with_avatar(client)
    page = client.get(reverse("members:profile"))
    assert b'name="avatar-clear"' in page.content  # the clear box is offered once there is a picture
    response = client.post(
        reverse("members:profile"), {"nickname": "有头像", "gender": "unknown", "avatar-clear": "on"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.avatar


def test_saving_without_a_new_file_keeps_the_avatar(client):
    user = _user_with_avatar(client)
    before = user.avatar.name
    client.post(reverse("members:profile"), {"nickname": "改名", "gender": "unknown"})
    user.refresh_from_db()
    assert user.avatar.name == before and user.nickname == "改名"


# --- the avatar page's round trip: open, save unchanged, save changed (core.images) ------------
def _media_files(settings):
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _sideways_photo(fmt="JPEG"):
    """Left half red, right half blue, EXIF orientation 6 (turn clockwise to view) and a GPS position."""
    image = Image.new("RGB", (40, 20), (220, 0, 0))
    image.paste((0, 0, 220), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (31.0, 13.0, 45.0), 3: "E", 4: (121.0, 28.0, 12.0)}
    buf = io.BytesIO()
    image.save(buf, fmt, exif=exif)
    return buf.getvalue()


def test_the_avatar_page_round_trip_keeps_changes_and_cleans_a_new_picture(client, settings, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from core import images
    from tests.forms import form_data

    user = make_user(nickname="小林")
    client.force_login(user)
    url = reverse("members:profile")

    # a phone photo named .pdf: stored as the JPEG it is, upright, without its EXIF
    response = client.post(url, {"nickname": "小林", "gender": "unknown",
                                 "avatar": SimpleUploadedFile("IMG_2041.pdf", _sideways_photo())})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.avatar.name.startswith("avatars/") and user.avatar.name.endswith("/IMG_2041.jpg")
    with Image.open(user.avatar.path) as stored:
        assert stored.format == "JPEG" and stored.size == (20, 40) and not stored.getexif()
        assert stored.convert("RGB").getpixel((10, 5))[0] > 150  # the red half on top
    files = _media_files(settings)
    assert files == [user.avatar.name]

    # opened and saved unchanged: the picture is neither read nor written again
    page = client.get(url)
    assert page.status_code == 200
    assert 'accept="image/jpeg,image/png,image/webp,image/gif"' in page.content.decode()
    data = form_data(page.content)
    assert data["nickname"] == ["小林"] and data["avatar"] == [""]
    monkeypatch.setattr(images, "clean_image", lambda *a, **k: pytest.fail("an unchanged avatar was re-encoded"))
    assert client.post(url, data).status_code == 302
    user.refresh_from_db()
    assert user.avatar.name == files[0] and _media_files(settings) == files
    monkeypatch.undo()

    # changed: a WebP named .tif replaces it, as a .webp; a nickname change is kept with it
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(buf, "WEBP")
    data = form_data(client.get(url).content)
    data.update(nickname=["林林"], avatar=SimpleUploadedFile("face.tif", buf.getvalue()))
    assert client.post(url, data).status_code == 302
    user.refresh_from_db()
    assert user.nickname == "林林" and user.avatar.name.endswith("/face.webp")
    with Image.open(user.avatar.path) as stored:
        assert stored.format == "WEBP"


def test_an_avatar_bomb_or_a_non_image_is_refused_on_the_page(client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    user = make_user(nickname="小林")
    client.force_login(user)
    buf = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buf, "PNG")  # 100 million pixels in about 12 KB
    for upload, message in [
        (SimpleUploadedFile("bomb.png", buf.getvalue()), "图片像素过多：最多 3600 万像素"),
        (SimpleUploadedFile("doc.pdf", b"%PDF-1.4 not a picture"), "只能上传 JPEG、PNG、WebP 或 GIF 图片"),
    ]:
        response = client.post(reverse("members:profile"), {"nickname": "小林", "gender": "unknown", "avatar": upload})
        assert response.status_code == 200 and message in response.content.decode()
    user.refresh_from_db()
    assert not user.avatar and _media_files(settings) == []
