from django.shortcuts import render


def home(request):
    """The shop's home page (首页). The catalogue issue fills it with categories and products."""
    return render(request, "shop/home.html", {"active_tab": "home"})
