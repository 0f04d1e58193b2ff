"""The home page's marketing parts: home.html includes `home_marketing_partial` (领券中心 / 积分商城)
and `home_top_partial` (HQ's banner carousel and notice bar, marketing.home) when set. Set only
for the home page, and it runs no query itself: `home_content` ({"banners", "notice"}) is read from
the cache when the template first uses it (two queries when cold)."""

from django.utils.functional import SimpleLazyObject

HOME_VIEW = "catalog:home"


def home_marketing(request):
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name == HOME_VIEW:
        from .home import home_content

        return {
            "home_marketing_partial": "marketing/partials/_home_entry.html",
            "home_top_partial": "marketing/partials/_home_top.html",
            "home_content": SimpleLazyObject(home_content),
        }
    return {}
