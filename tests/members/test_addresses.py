import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from members import services
from members.models import Address
from members.validators import normalize_mainland_mobile

from .factories import make_member

pytestmark = pytest.mark.django_db

VALID = {
    "receiver": "张三",
    "phone": "138 0013 8000",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "detail": "文三路 100 号",
}


@pytest.mark.parametrize("raw", ["13800138000", "+8613800138000", "138-0013-8000", "0086 138 0013 8000"])
def test_mainland_mobiles_are_normalised(raw):
    assert normalize_mainland_mobile(raw) == "13800138000"


@pytest.mark.parametrize("raw", ["", "12800138000", "1380013800", "138001380001", "abc", "+1 415 555 0100"])
def test_malformed_mobiles_are_refused(raw):
    with pytest.raises(ValidationError):
        normalize_mainland_mobile(raw)


def _address(user, **extra):
    return services.save_address(user, Address(**{**VALID, "phone": "13800138000", **extra}))


def test_first_address_becomes_default_and_only_one_default():
    user = make_member().user
    first = _address(user)
    second = _address(user)
    assert first.is_default and not second.is_default
    services.set_default_address(user, second.pk)
    assert list(Address.objects.filter(user=user, is_default=True)) == [second]
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.filter(pk=first.pk).update(is_default=True)


def test_deleting_the_default_promotes_another():
    user = make_member().user
    first = _address(user)
    second = _address(user)
    services.delete_address(user, first.pk)
    second.refresh_from_db()
    assert second.is_default


def test_create_through_the_page(client):
    user = make_member().user
    client.force_login(user)
    response = client.post(reverse("members:address_create"), VALID)
    assert response.status_code == 302
    address = Address.objects.get(user=user)
    assert address.phone == "13800138000" and address.is_default


@pytest.mark.parametrize(
    "change",
    [
        {"phone": "12345"},
        {"city": "南京市"},  # not a city of 浙江省
        {"district": "玄武区"},  # not a district of 杭州市
        {"province": "火星"},
        {"receiver": "   "},
    ],
)
def test_bad_address_input_is_refused_and_nothing_saved(client, change):
    user = make_member().user
    client.force_login(user)
    response = client.post(reverse("members:address_create"), {**VALID, **change})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Address.objects.filter(user=user).exists()


def test_another_users_address_answers_404(client):
    owner = make_member().user
    address = _address(owner)
    client.force_login(make_member().user)
    assert client.get(reverse("members:address_edit", args=[address.pk])).status_code == 404
    assert client.post(reverse("members:address_delete", args=[address.pk])).status_code == 404
    assert client.post(reverse("members:address_default", args=[address.pk])).status_code == 404
    assert Address.objects.filter(pk=address.pk).exists()


def test_edit_and_set_default_through_the_pages(client):
    user = make_member().user
    client.force_login(user)
    first = _address(user)
    second = _address(user)
    response = client.post(
        reverse("members:address_edit", args=[second.pk]), {**VALID, "detail": "新地址", "make_default": "on"}
    )
    assert response.status_code == 302
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.detail == "新地址" and second.is_default and not first.is_default
    client.post(reverse("members:address_default", args=[first.pk]))
    first.refresh_from_db()
    assert first.is_default


def test_address_next_must_be_local(client):
    user = make_member().user
    client.force_login(user)
    response = client.post(reverse("members:address_create"), {**VALID, "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("members:addresses")
