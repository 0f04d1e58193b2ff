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
