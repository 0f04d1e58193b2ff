"""WeChat web authorisation from inside WeChat, through allauth's `weixin` provider.

allauth's weixin adapter targets the website QR login. Inside WeChat the authorize URL is
open.weixin.qq.com/connect/oauth2/authorize (settings: AUTHORIZE_URL, SCOPE snsapi_userinfo), and
WeChat wants `#wechat_redirect` at its end, which allauth does not add. Its parameters must come in
the order appid, redirect_uri, response_type, scope, state (allauth sorts them: the same order).
The `state` is allauth's random state stashed in the session: a replayed or foreign state is refused.

The token endpoint is documented as GET; userinfo answers errors as HTTP 200 with `errcode`, and its
body is UTF-8 whatever the Content-Type says, so we decode it ourselves.
"""

import json

from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.weixin.client import WeixinOAuth2Client
from allauth.socialaccount.providers.weixin.views import WeixinOAuth2Adapter
from django.utils.translation import gettext_lazy as _

IN_APP_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"


def is_wechat_browser(request) -> bool:
    return "micromessenger" in request.headers.get("user-agent", "").lower()


class WechatOAuth2Client(WeixinOAuth2Client):
    def get_redirect_url(self, authorization_url, scope, extra_params):
        url = super().get_redirect_url(authorization_url, scope, extra_params)
        if authorization_url.startswith(IN_APP_AUTHORIZE_URL):
            url += "#wechat_redirect"
        return url


class WechatOAuth2Adapter(WeixinOAuth2Adapter):
    client_class = WechatOAuth2Client
    access_token_method = "GET"  # nosec: the documented method of sns/oauth2/access_token

    def complete_login(self, request, app, token, **kwargs):
        from allauth.socialaccount.adapter import get_adapter

        response = kwargs.get("response") or {}
        openid = response.get("openid")
        if not openid:
            raise OAuth2Error(_("微信授权失败：缺少 openid"))
        with get_adapter().get_requests_session() as session:
            resp = session.get(
                self.profile_url,
                params={"access_token": token.token, "openid": openid, "lang": "zh_CN"},
            )
            resp.raise_for_status()
            try:
                extra_data = json.loads(resp.content.decode("utf-8"))
            except ValueError as exc:
                raise OAuth2Error("WeChat userinfo is not JSON") from exc
        if extra_data.get("errcode") or extra_data.get("openid") != openid:
            raise OAuth2Error(f"WeChat userinfo refused: {extra_data.get('errcode')} {extra_data.get('errmsg')}")
        if response.get("unionid") and not extra_data.get("unionid"):
            extra_data["unionid"] = response["unionid"]
        return self.get_provider().sociallogin_from_response(request, extra_data)


oauth2_login = OAuth2LoginView.adapter_view(WechatOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(WechatOAuth2Adapter)


def wechat_identity(user):
    """(openid, unionid) of the user's WeChat login, or (None, None): JSAPI payments need the openid."""
    from allauth.socialaccount.models import SocialAccount

    account = SocialAccount.objects.filter(user=user, provider="weixin").only("uid", "extra_data").first()
    if account is None:
        return None, None
    return account.uid, (account.extra_data or {}).get("unionid")


def _configured(request) -> bool:
    from allauth.socialaccount.adapter import get_adapter

    return bool(get_adapter(request).list_apps(request, provider="weixin"))


def _back_to_login(request, message):
    from django.contrib import messages
    from django.http import HttpResponseRedirect
    from django.urls import reverse

    messages.error(request, message)
    return HttpResponseRedirect(reverse("account_login"))


def login_view(request, *args, **kwargs):
    """WeChat authorisation, only when an app is configured, and for a visitor not yet logged in
    only after consent to the 用户协议 and 隐私政策 (the login page's checkbox, recorded at login)."""
    from .consent import remember_consent

    if not _configured(request):
        return _back_to_login(request, _("微信登录暂未开通，请使用手机号验证码登录"))
    if not request.user.is_authenticated:
        if request.method != "POST" or not request.POST.get("agree"):
            return _back_to_login(request, _("请先阅读并同意用户协议和隐私政策"))
        remember_consent(request, "wechat")
    return oauth2_login(request, *args, **kwargs)


def callback_view(request, *args, **kwargs):
    if not _configured(request):
        return _back_to_login(request, _("微信登录暂未开通，请使用手机号验证码登录"))
    return oauth2_callback(request, *args, **kwargs)
