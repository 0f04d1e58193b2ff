"""Mounted at /accounts/ before allauth.urls: these paths take precedence over allauth's own
(the one-step phone login, the weixin login/callback using our in-WeChat adapter, and allauth's
pages this shop does not use); the URL names are allauth's, so every reverse() keeps working."""

from django.urls import path, re_path

from . import views, wechat_openid, weixin

urlpatterns = [
    path("login/", views.code_login, name="account_login"),
    path("staff-login/", views.StaffLoginView.as_view(), name="account_staff_login"),
    path("bind-phone/", views.bind_phone, name="account_bind_phone"),
    path("dev/sms-outbox/", views.dev_sms_outbox, name="account_dev_sms_outbox"),
    path("legal/<slug:kind>/", views.legal_document, name="account_legal"),
    path("weixin/login/", weixin.login_view, name="weixin_login"),
    path("weixin/login/callback/", weixin.callback_view, name="weixin_callback"),
    path("weixin/base/callback/", wechat_openid.silent_authorisation_callback, name="wechat_base_callback"),
    # one way in: sign-up and allauth's own login-by-code pages go to the one-step login
    path("signup/", views.to_login, name="account_signup"),
    path("login/code/", views.to_login, name="account_request_login_code"),
    path("login/code/confirm/", views.to_login, name="account_confirm_login_code"),
    # no e-mail, no shopper passwords (staff passwords are set in the admin): not reachable
    path("email/", views.not_used, name="account_email"),
    path("confirm-email/", views.not_used, name="account_email_verification_sent"),
    re_path(r"^confirm-email/(?P<key>[-:\w]+)/$", views.not_used, name="account_confirm_email"),
    path("password/change/", views.not_used, name="account_change_password"),
    path("password/set/", views.not_used, name="account_set_password"),
    path("password/reset/", views.not_used, name="account_reset_password"),
    path("password/reset/done/", views.not_used, name="account_reset_password_done"),
    re_path(r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$", views.not_used,
            name="account_reset_password_from_key"),
    path("password/reset/key/done/", views.not_used, name="account_reset_password_from_key_done"),
    path("phone/change/", views.to_bind_phone, name="account_change_phone"),
    # asks for a password shoppers do not have; nothing here requires it (REAUTHENTICATION_REQUIRED off)
    path("reauthenticate/", views.not_used, name="account_reauthenticate"),
]
