"""Mounted at /accounts/ before allauth.urls: these paths take precedence over allauth's own
(login with WeChat context, and the weixin login/callback using our in-WeChat adapter); the URL
names are allauth's, so every reverse() keeps working."""

from django.urls import path

from . import views, wechat_openid, weixin

urlpatterns = [
    path("login/", views.PhoneLoginView.as_view(), name="account_login"),
    path("staff-login/", views.StaffLoginView.as_view(), name="account_staff_login"),
    path("bind-phone/", views.bind_phone, name="account_bind_phone"),
    path("dev/sms-outbox/", views.dev_sms_outbox, name="account_dev_sms_outbox"),
    path("weixin/login/", weixin.oauth2_login, name="weixin_login"),
    path("weixin/login/callback/", weixin.oauth2_callback, name="weixin_callback"),
    path("weixin/base/callback/", wechat_openid.silent_authorisation_callback, name="wechat_base_callback"),
]
