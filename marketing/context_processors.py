"""The home page's marketing strip (领券中心 / 积分商城): home.html includes `home_marketing_partial`
when set. Set only for the home page, and it runs no query."""

HOME_VIEW = "catalog:home"


def home_marketing(request):
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name == HOME_VIEW:
        return {"home_marketing_partial": "marketing/partials/_home_entry.html"}
    return {}
