from django.urls import path

from . import backoffice

app_name = "marketing_bo"

urlpatterns = [
    path("pickups/", backoffice.pickups, name="pickups"),
    path("pickups/verify/", backoffice.pickup_verify, name="pickup_verify"),
    path("coupons/", backoffice.coupon_stats, name="coupons"),
]
