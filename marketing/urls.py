from django.urls import path

from . import views

app_name = "marketing"

urlpatterns = [
    path("points-mall/", views.mall, name="mall"),
    path("points-mall/<int:pk>/", views.mall_item, name="mall_item"),
    path("points-mall/<int:pk>/exchange/", views.mall_exchange, name="mall_exchange"),
    path("points-mall/records/", views.exchange_list, name="exchanges"),
    path("points-mall/records/<int:pk>/", views.exchange_detail, name="exchange_detail"),
    path("points-mall/records/<int:pk>/cancel/", views.exchange_cancel, name="exchange_cancel"),
    path("coupons/", views.coupon_wallet, name="coupons"),
    path("coupons/centre/", views.coupon_centre, name="coupon_centre"),
    path("coupons/<int:pk>/claim/", views.coupon_claim, name="coupon_claim"),
]
