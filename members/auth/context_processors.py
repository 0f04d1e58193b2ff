def auth_pages(request):
    """Sign-in pages (/accounts/..., allauth's included) hide the shop's bottom tab bar."""
    if request.path.startswith("/accounts/"):
        return {"hide_tabbar": True}
    return {}
