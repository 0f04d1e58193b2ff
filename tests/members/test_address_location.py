"""Address coordinates for same-city delivery: filled by "使用当前位置" into hidden inputs, checked
by the form (both or neither, finite, in range, ASCII), kept through an unchanged edit."""

import pytest
from django.db import IntegrityError, transaction
from django.templatetags.static import static
from django.urls import reverse

from members import services
from members.models import Address
from tests.forms import form_data

from .factories import make_member
from .test_views import SESSION_QUERIES, TAB_BAR_BADGE

pytestmark = pytest.mark.django_db

VALID = {
    "receiver": "张三",
    "phone": "13800138000",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "detail": "文三路 100 号",
}
HERE = {"latitude": "30.274084", "longitude": "120.155070"}


def _address(user, **extra):
    return services.save_address(user, Address(**{**VALID, **extra}))


def _row(address):
    """Everything the shopper could change, read fresh."""
    fields = [*VALID, "latitude", "longitude", "is_default"]
    return Address.objects.filter(pk=address.pk).values(*fields).get()


@pytest.fixture
def shopper(client):
    user = make_member().user
    client.force_login(user)
    return user


def test_a_position_is_saved_with_the_address(client, shopper):
    response = client.post(reverse("members:address_create"), {**VALID, **HERE})
    assert response.status_code == 302
    address = Address.objects.get(user=shopper)
    assert (address.latitude, address.longitude) == (30.274084, 120.15507)
    assert address.is_located


def test_an_address_without_a_position_is_fine(client, shopper):
    response = client.post(reverse("members:address_create"), {**VALID, "latitude": "", "longitude": " "})
    assert response.status_code == 302
    address = Address.objects.get(user=shopper)
    assert (address.latitude, address.longitude) == (None, None) and not address.is_located


@pytest.mark.parametrize("missing", ["latitude", "longitude"])
def test_half_a_position_is_refused(client, shopper, missing):
    response = client.post(reverse("members:address_create"), {**VALID, **HERE, missing: ""})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["位置信息不完整，请重新定位"]
    assert "位置信息不完整，请重新定位" in response.content.decode()
    assert not Address.objects.filter(user=shopper).exists()


@pytest.mark.parametrize(
    "field, raw",
    [
        ("latitude", "30.2\x01"),
        ("latitude", "３０.２７"),  # full-width digits: float() would take them
        ("latitude", "٣٠.٢"),  # Arabic-Indic digits
        ("latitude", "1e400"),  # inf
        ("latitude", "9" * 400),
        ("latitude", "nan"),
        ("longitude", "inf"),
        ("longitude", "-Infinity"),
        ("latitude", "90.000001"),
        ("latitude", "-91"),
        ("longitude", "180.5"),
        ("longitude", "-181"),
        ("latitude", "30,27"),
        ("latitude", "1_0"),
        ("longitude", "12.5.6"),
        ("longitude", "abc"),
        ("longitude", "0x1f"),
    ],
)
def test_a_bad_coordinate_is_a_form_error_never_a_500(client, shopper, field, raw):
    response = client.post(reverse("members:address_create"), {**VALID, **HERE, field: raw})
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert errors and errors[0] in {"位置信息无效，请重新定位", "位置信息超出范围，请重新定位"}
    assert errors[0] in response.content.decode()  # a hidden input's error is shown too
    assert not Address.objects.filter(user=shopper).exists()


@pytest.mark.parametrize(
    "latitude, longitude", [("90", "180"), ("-90", "-180"), ("0", "0"), ("+1.5", "-0.25"), ("1e-05", "1E+2")]
)
def test_edge_values_within_range_are_accepted(client, shopper, latitude, longitude):
    response = client.post(
        reverse("members:address_create"), {**VALID, "latitude": latitude, "longitude": longitude}
    )
    assert response.status_code == 302
    address = Address.objects.get(user=shopper)
    assert (address.latitude, address.longitude) == (float(latitude), float(longitude))


@pytest.mark.parametrize(
    "latitude, longitude",
    [
        (30.274084, 120.15507),
        (31.193512345678901, 121.43651234567891),
        (1e-05, -0.0001),
        (0.0, 0.0),
        (None, None),
    ],
)
def test_open_edit_change_nothing_save_changes_nothing(client, shopper, latitude, longitude):
    address = _address(shopper, latitude=latitude, longitude=longitude)
    before = _row(address)
    url = reverse("members:address_edit", args=[address.pk])
    page = client.get(url)
    data = form_data(page.content, "address-form")
    assert data["latitude"] == ["" if latitude is None else str(latitude)]
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["form"].errors
    assert _row(address) == before


def test_editing_the_street_keeps_the_position(client, shopper):
    address = _address(shopper, latitude=30.274084, longitude=120.15507)
    url = reverse("members:address_edit", args=[address.pk])
    data = form_data(client.get(url).content, "address-form")
    data["detail"] = ["文三路 100 号 3 单元"]
    assert client.post(url, data).status_code == 302
    row = _row(address)
    assert row["detail"] == "文三路 100 号 3 单元" and (row["latitude"], row["longitude"]) == (
        30.274084,
        120.15507,
    )


def test_moving_to_another_district_without_locating_again_forgets_the_old_position(client, shopper):
    address = _address(shopper, latitude=30.274084, longitude=120.15507)
    url = reverse("members:address_edit", args=[address.pk])
    data = form_data(client.get(url).content, "address-form")
    data["district"] = ["滨江区"]
    assert client.post(url, data).status_code == 302
    row = _row(address)
    assert row["district"] == "滨江区" and (row["latitude"], row["longitude"]) == (None, None)


def test_moving_with_a_new_position_keeps_the_new_position(client, shopper):
    address = _address(shopper, latitude=30.274084, longitude=120.15507)
    url = reverse("members:address_edit", args=[address.pk])
    data = form_data(client.get(url).content, "address-form")
    data.update(district=["滨江区"], latitude=["30.208"], longitude=["120.2119"])
    assert client.post(url, data).status_code == 302
    assert (_row(address)["latitude"], _row(address)["longitude"]) == (30.208, 120.2119)


def test_clearing_the_position_on_edit(client, shopper):
    address = _address(shopper, latitude=30.274084, longitude=120.15507)
    url = reverse("members:address_edit", args=[address.pk])
    data = form_data(client.get(url).content, "address-form")
    data.update(latitude=[""], longitude=[""])
    assert client.post(url, data).status_code == 302
    assert (_row(address)["latitude"], _row(address)["longitude"]) == (None, None)


def test_the_form_page_offers_the_button_and_loads_its_script_deferred(
    client, shopper, django_assert_num_queries
):
    address = _address(shopper, latitude=30.274084, longitude=120.15507)
    with django_assert_num_queries(SESSION_QUERIES + 2):
        page = client.get(reverse("members:address_edit", args=[address.pk])).content.decode()
    assert f'<script src="{static("members/address_location.js")}" defer></script>' in page
    assert "使用当前位置" in page and "data-locate-button" in page
    assert '<input type="hidden" name="latitude" value="30.274084"' in page
    assert "navigator.geolocation" not in page  # no inline script
    assert "已定位" in page
    new = client.get(reverse("members:address_create")).content.decode()
    assert "未定位" in new and 'name="latitude"' in new


def test_the_address_list_says_which_addresses_are_located(client, shopper, django_assert_num_queries):
    _address(shopper, detail="有位置", latitude=30.274084, longitude=120.15507)
    _address(shopper, detail="没位置")
    with django_assert_num_queries(SESSION_QUERIES + 2 + TAB_BAR_BADGE):  # user, addresses, badge
        page = client.get(reverse("members:addresses")).content.decode()
    assert page.count("已定位") == 1
    located = page.index("有位置")
    assert page.rfind("已定位", 0, located) > page.rfind("mc-address__who", 0, located)


@pytest.mark.parametrize(
    "latitude, longitude",
    [(30.0, None), (None, 120.0), (90.5, 120.0), (30.0, -180.5), (float("inf"), 0.0), (float("nan"), 0.0)],
)
def test_the_database_refuses_a_half_or_out_of_range_position(latitude, longitude):
    user = make_member().user
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.create(user=user, **VALID, latitude=latitude, longitude=longitude)
