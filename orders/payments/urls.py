from django.urls import path

from . import alipay_views, views, wechat_views

app_name = "payments"

urlpatterns = [
    path("dev/notify/", views.dev_notify, name="dev_notify"),
    path("dev/<str:out_trade_no>/", views.dev_pay, name="dev_pay"),
    path("alipay/notify/", alipay_views.alipay_notify, name="alipay_notify"),
    path("alipay/pay/<str:token>/", alipay_views.alipay_pay_link, name="alipay_pay_link"),
    path("alipay/return/<str:token>/", alipay_views.alipay_return, name="alipay_return"),
    path("wechatpay/notify/", wechat_views.notify, name="wechat_notify"),
    path("wechatpay/refund-notify/", wechat_views.refund_notify, name="wechat_refund_notify"),
    path("wechatpay/jsapi/<str:out_trade_no>/", wechat_views.jsapi_page, name="wechat_jsapi"),
    path("wechatpay/status/<str:out_trade_no>/", wechat_views.payment_status, name="wechat_status"),
    path("wechatpay/query/<str:out_trade_no>/", wechat_views.query_payment, name="wechat_query"),
]
