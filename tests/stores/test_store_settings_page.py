"""门店设置: a manager edits their own store's hours, phone, cover, pickup and delivery; HQ any
store; a clerk only looks; another store's id is 404; bad input is a form error, nothing changed."""

from datetime import time
from decimal import Decimal

import pytest
from django.urls import reverse

from stores.models import Store, StoreHours
from tests.forms import form_data

pytestmark = pytest.mark.django_db
URL = reverse("stores_bo:settings")


def snapshot(store):
    row = Store.objects.values().get(pk=store.pk)
    row.pop("updated_at")
    hours = sorted(StoreHours.objects.filter(store=store).values_list("weekday", "opens", "closes"))
    return row, hours


def the_form(client, store):
    response = client.get(URL, {"store": store.pk})
    assert response.status_code == 200
    return {name: values[0] if len(values) == 1 else values
            for name, values in form_data(response.content.decode(), "store-settings").items()}


def test_a_manager_saves_unchanged_then_changes_hours_and_delivery(client, manager_a, store_a):
    client.force_login(manager_a)
    before = snapshot(store_a)
    response = client.post(URL, the_form(client, store_a), follow=True)
    assert response.redirect_chain and snapshot(store_a) == before  # open, change nothing, save
    assert "门店设置已保存" in response.content.decode()

    data = the_form(client, store_a)
    data.update({"phone": "021-6666 8888", "delivery_enabled": "on", "delivery_radius_km": "3.5",
                 "delivery_fee": "6.00", "delivery_min_order": "30", "pickup_slot_minutes": "30"})
    data["hours-0-DELETE"] = "on"  # Monday closed
    new = int(data["hours-TOTAL_FORMS"]) - 1  # the empty extra row
    data.update({f"hours-{new}-weekday": "5", f"hours-{new}-opens": "22:00", f"hours-{new}-closes": "02:00"})
    assert client.post(URL, data).status_code == 302
    store = Store.objects.get(pk=store_a.pk)
    assert (store.phone, store.delivery_enabled, store.delivery_radius_km, store.delivery_fee) == (
        "021-6666 8888", True, Decimal("3.50"), Decimal("6.00"))
    assert store.pickup_slot_minutes == 30
    weekdays = list(StoreHours.objects.filter(store=store).values_list("weekday", "opens", "closes"))
    assert (0, time(9), time(21)) not in weekdays and (5, time(22), time(2)) in weekdays
    assert client.post(URL, data).status_code in (200, 302)  # the same form again: no 500, no duplicate
    assert StoreHours.objects.filter(store=store, weekday=5, opens=time(22)).count() == 1


def test_hq_edits_any_store_but_a_manager_only_theirs(client, manager_a, hq_user, store_a, store_b):
    client.force_login(hq_user)
    data = the_form(client, store_b)
    data["phone"] = "0571-8888 0000"
    assert client.post(URL, data).status_code == 302
    assert Store.objects.get(pk=store_b.pk).phone == "0571-8888 0000"

    client.force_login(manager_a)
    before = snapshot(store_b)
    assert client.get(URL, {"store": store_b.pk}).status_code == 404
    data["store"] = str(store_b.pk)
    data["phone"] = "110"
    assert client.post(URL, data).status_code == 404
    assert snapshot(store_b) == before


def test_a_clerk_sees_the_settings_but_cannot_change_them(client, clerk_a, store_a):
    client.force_login(clerk_a)
    response = client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200 and "只有店长或总部可以修改门店设置" in html
    assert 'name="phone"' in html and "disabled" in html and "保存设置" not in html
    before = snapshot(store_a)
    data = {"store": store_a.pk, "phone": "999", "pickup_enabled": "on", "hours-TOTAL_FORMS": "0",
            "hours-INITIAL_FORMS": "0"}
    response = client.post(URL, data, follow=True)
    assert "只有店长或总部可以修改门店设置" in response.content.decode()
    assert snapshot(store_a) == before


def test_a_customer_or_anonymous_visitor_never_reaches_it(client, store_a):
    from django.contrib.auth import get_user_model

    assert client.get(URL).status_code == 302  # to the staff login
    client.force_login(get_user_model().objects.create_user("shopper"))
    assert client.post(URL, {"store": store_a.pk, "phone": "1"}).status_code == 403
    assert Store.objects.get(pk=store_a.pk).phone == "021-12345678"


BAD = ["\x00", "²", "٣", "9" * 40, "-1", "1e9", "abc", " ", "9223372036854775808", "3.999"]


@pytest.mark.parametrize("field", ["phone", "delivery_radius_km", "delivery_fee", "delivery_min_order",
                                   "pickup_lead_minutes", "pickup_slot_minutes", "hours-0-weekday",
                                   "hours-0-opens", "hours-0-closes", "store", "hours-TOTAL_FORMS"])
def test_bad_values_are_form_errors_and_change_nothing(client, manager_a, store_a, field):
    client.force_login(manager_a)
    good = the_form(client, store_a)
    before = snapshot(store_a)
    for bad in BAD:
        data = dict(good, delivery_enabled="on", delivery_radius_km="3")
        data[field] = bad
        response = client.post(URL, data)
        allowed = (400,) if "\x00" in bad else (200, 302, 404)  # a NUL is refused before the view
        assert response.status_code in allowed, (field, bad, response.status_code)
        after = snapshot(store_a)
        if response.status_code != 302:
            assert after == before, (field, bad)
        else:  # accepted: only a value that is valid for the field (e.g. 3.999 km is refused, "1e9" is not a phone)
            assert after[0]["phone"] in ("021-12345678",) or field == "phone"
            Store.objects.filter(pk=store_a.pk).update(**{k: v for k, v in before[0].items() if k != "id"})


def test_two_ranges_opening_at_the_same_time_on_one_day_are_refused(client, manager_a, store_a):
    client.force_login(manager_a)
    data = the_form(client, store_a)
    new = int(data["hours-TOTAL_FORMS"]) - 1
    data.update({f"hours-{new}-weekday": "0", f"hours-{new}-opens": "09:00", f"hours-{new}-closes": "12:00"})
    response = client.post(URL, data)
    assert response.status_code == 200 and "同一天不能有两段相同开门时间的营业时间" in response.content.decode()
    assert StoreHours.objects.filter(store=store_a, weekday=0).count() == 1


def test_at_least_one_way_to_get_the_goods(client, manager_a, store_a):
    client.force_login(manager_a)
    data = the_form(client, store_a)
    for name in ("pickup_enabled", "delivery_enabled", "express_enabled"):
        data.pop(name, None)
    response = client.post(URL, data)
    assert "自提、同城配送、快递至少开启一种" in response.content.decode()
    assert Store.objects.get(pk=store_a.pk).pickup_enabled


def test_the_page_reads_in_a_few_queries(client, manager_a, store_a, django_assert_max_num_queries):
    client.force_login(manager_a)
    client.get(URL)
    with django_assert_max_num_queries(12):
        assert client.get(URL).status_code == 200


def test_a_cover_photo_is_an_image_or_a_clear_error(client, manager_a, store_a):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    client.force_login(manager_a)
    data = the_form(client, store_a)
    data["cover"] = SimpleUploadedFile("cover.pdf", b"%PDF-1.4 not an image", content_type="application/pdf")
    response = client.post(URL, data)
    assert response.status_code == 200 and not Store.objects.get(pk=store_a.pk).cover
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 40)).save(buffer, "PNG")
    data["cover"] = SimpleUploadedFile("cover.tif", buffer.getvalue(), content_type="image/tiff")
    assert client.post(URL, data).status_code == 302
    assert Store.objects.get(pk=store_a.pk).cover.name.endswith(".png")  # named by what it is


def test_the_cover_shows_as_a_picture_can_be_replaced_kept_or_removed(
    client, manager_a, clerk_a, store_a, django_capture_on_commit_callbacks
):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    def picture(color):
        buffer = io.BytesIO()
        Image.new("RGB", (1200, 900), color).save(buffer, "JPEG")
        return SimpleUploadedFile("cover.jpg", buffer.getvalue(), content_type="image/jpeg")

    client.force_login(manager_a)
    html = client.get(URL, {"store": store_a.pk}).content.decode()
    assert 'data-testid="cover-preview"' not in html and 'name="cover-clear"' not in html
    data = the_form(client, store_a)
    data["cover"] = picture((200, 80, 40))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(URL, data).status_code == 302
    store = Store.objects.get(pk=store_a.pk)
    thumb = store.cover_image
    assert (thumb.width, thumb.height) == (750, 562)
    html = client.get(URL, {"store": store_a.pk}).content.decode()
    preview = html.split('data-testid="cover-preview"', 1)[1].split(">", 2)[1]
    assert f'src="{thumb.url}"' in preview and 'width="750" height="562"' in preview
    # saved unchanged: the cover stays
    data = the_form(client, store_a)
    data.pop("cover", None)
    assert client.post(URL, data).status_code == 302
    assert Store.objects.get(pk=store_a.pk).cover.name == store.cover.name
    # a bad file: the form again, with the stored cover still shown
    data["cover"] = SimpleUploadedFile("x.pdf", b"%PDF-1.4", content_type="application/pdf")
    response = client.post(URL, data)
    assert response.status_code == 200 and f'src="{thumb.url}"' in response.content.decode()
    # removed
    data.pop("cover")
    data["cover-clear"] = "on"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(URL, data).status_code == 302
    assert not Store.objects.get(pk=store_a.pk).cover
    # a clerk sees the picture, without the inputs that change it
    with django_capture_on_commit_callbacks(execute=True):
        store_a.cover = picture((9, 90, 9))
        store_a.save()
    client.force_login(clerk_a)
    html = client.get(URL, {"store": store_a.pk}).content.decode()
    assert 'data-testid="cover-preview"' in html and 'name="cover"' not in html and 'name="cover-clear"' not in html


def test_the_fields_that_stay_with_hq_are_not_on_the_page_and_a_forged_post_changes_none(client, manager_a,
                                                                                      store_a, store_b):
    """Name, code, address, location, status and staff are HQ's: the manager's form neither shows them
    nor takes them from a hand-made POST (its other fields are saved as usual)."""
    from stores.models import StoreStaff

    client.force_login(manager_a)
    data = the_form(client, store_a)
    hq_only = {"name": "改名店", "code": "renamed", "city": "北京市", "street": "长安街1号", "latitude": "39.9",
               "longitude": "116.4", "is_archived": "on", "status": "closed", "staff-0-user": str(manager_a.pk),
               "staff-0-role": "manager", "staff-0-store": str(store_b.pk)}
    assert not set(hq_only) & set(data)
    before = Store.objects.values("name", "code", "city", "street", "latitude", "longitude", "is_archived", "status").get(
        pk=store_a.pk)
    data.update(hq_only, phone="021-1234 5678")
    assert client.post(URL, data).status_code == 302
    assert Store.objects.values(*before).get(pk=store_a.pk) == before
    assert Store.objects.get(pk=store_a.pk).phone == "021-1234 5678"
    assert list(StoreStaff.objects.filter(user=manager_a).values_list("store", "role")) == [(store_a.pk, "manager")]
