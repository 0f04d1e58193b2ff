from django.urls import path

from . import backoffice, home_backoffice

app_name = "marketing_bo"

urlpatterns = [
    path("pickups/", backoffice.pickups, name="pickups"),
    path("pickups/verify/", backoffice.pickup_verify, name="pickup_verify"),
    path("coupons/", backoffice.coupon_stats, name="coupons"),
    path("home/", home_backoffice.home_index, name="home"),
    path("home/<slug:slug>/", home_backoffice.content_list, name="home_list"),
    path("home/<slug:slug>/new/", home_backoffice.content_create, name="home_create"),
    path("home/<slug:slug>/<int:pk>/", home_backoffice.content_edit, name="home_edit"),
    path("home/<slug:slug>/<int:pk>/delete/", home_backoffice.content_delete, name="home_delete"),
]
