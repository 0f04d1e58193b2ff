"""The search page: HQ's hot words in order, the shopper's recent searches (session, newest first, at
most 10, 清除), a back arrow, and bad queries (NUL, control characters, huge) answered safely."""

import pytest
from django.urls import reverse

from catalog import cache as catalog_cache
from catalog.models import HotSearchWord
from catalog.views import RECENT_MAX, RECENT_SESSION_KEY

from .factories import product

pytestmark = pytest.mark.django_db

SEARCH = reverse("catalog:search")
CLEAR = reverse("catalog:clear_recent_searches")


def _words(html, css):
    import re

    return re.findall(rf'class="catalog-word{css}[^"]*" href="[^"]*">([^<]*)</a>', html)


def test_hot_words_in_hq_order_only_active(client):
    HotSearchWord.objects.create(word="咖啡", sort_order=2)
    HotSearchWord.objects.create(word="坚果", sort_order=1)
    HotSearchWord.objects.create(word="停用", sort_order=0, is_active=False)
    html = client.get(SEARCH).content.decode()
    assert "热门搜索" in html
    assert _words(html, "") == ["坚果", "咖啡"]
    assert 'href="/search/?q=%E5%9D%9A%E6%9E%9C"' in html


def test_hot_word_edit_shows_at_once_and_the_page_is_cached(client, django_assert_max_num_queries):
    word = HotSearchWord.objects.create(word="坚果")
    client.get(SEARCH)
    catalog_cache.clear_local()
    with django_assert_max_num_queries(0):
        client.get(SEARCH)
    word.word = "牛奶"
    word.save()
    assert "牛奶" in client.get(SEARCH).content.decode()


def test_recent_searches_newest_first_without_repeats_at_most_ten(client):
    product("每日坚果")
    for i in range(12):
        client.get(SEARCH, {"q": f"词{i}"})
    client.get(SEARCH, {"q": "词5"})
    recent = client.session[RECENT_SESSION_KEY]
    assert len(recent) == RECENT_MAX
    assert recent[:3] == ["词5", "词11", "词10"]
    assert recent.count("词5") == 1
    html = client.get(SEARCH).content.decode()
    assert "最近搜索" in html and "清除" in html
    assert _words(html, "")[:2] == ["词5", "词11"]


def test_clear_forgets_recent_searches_and_a_second_clear_is_harmless(client):
    client.get(SEARCH, {"q": "坚果"})
    assert client.post(CLEAR).status_code == 302
    assert RECENT_SESSION_KEY not in client.session
    assert client.post(CLEAR).status_code == 302
    assert "最近搜索" not in client.get(SEARCH).content.decode()
    assert client.get(CLEAR).status_code == 405


@pytest.mark.parametrize("raw,kept", [
    ("坚果\x00", "坚果"), ("\x00", None), ("a\x07b", "a b"), ("  多   空格  ", "多 空格"), ("x" * 100_000, "x" * 100),
    ("\u202e反转", "反转"),
])
def test_bad_queries_are_cleaned_never_a_500(client, raw, kept):
    response = client.get(SEARCH, {"q": raw})
    if "\x00" in raw:  # a NUL anywhere is refused before any view (core.middleware): nothing remembered
        assert response.status_code == 400
        assert RECENT_SESSION_KEY not in client.session
        return
    assert response.status_code == 200
    recent = client.session.get(RECENT_SESSION_KEY, [])
    assert recent == ([kept] if kept else [])


def test_a_load_more_page_is_not_a_new_search(client):
    client.get(SEARCH, {"q": "坚果", "page": "2"}, HTTP_HX_REQUEST="true")
    assert RECENT_SESSION_KEY not in client.session


def test_search_page_has_a_back_arrow(client):
    html = client.get(SEARCH).content.decode()
    assert 'class="shop-back"' in html and "data-nav-back" in html and 'aria-label="返回"' in html
    assert "#chevron-left" in html
