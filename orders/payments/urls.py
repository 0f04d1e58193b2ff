from django.urls import path

from . import alipay_views, views

app_name = "payments"

urlpatterns = [
    path("dev/notify/", views.dev_notify, name="dev_notify"),
    path("dev/<str:out_trade_no>/", views.dev_pay, name="dev_pay"),
    path("alipay/notify/", alipay_views.alipay_notify, name="alipay_notify"),
    path("alipay/pay/<str:token>/", alipay_views.alipay_pay_link, name="alipay_pay_link"),
    path("alipay/return/<str:token>/", alipay_views.alipay_return, name="alipay_return"),
]
