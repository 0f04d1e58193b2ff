import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

pytestmark = pytest.mark.django_db


def test_phone_is_optional_for_many_users():
    User = get_user_model()
    User.objects.create_user("wx-1")
    User.objects.create_user("wx-2")
    assert User.objects.filter(phone__isnull=True).count() == 2


def test_phone_is_unique_when_present():
    User = get_user_model()
    User.objects.create_user("a", phone="+8613800138000")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("b", phone="+8613800138000")


def test_display_name_masks_the_phone():
    user = get_user_model()(username="u1", phone="+8613800138000")
    assert user.display_name == "138****8000"
    user.nickname = "小王"
    assert user.display_name == "小王"
