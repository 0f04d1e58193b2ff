"""The payer's openid for WeChat Pay's JSAPI, learnt by a silent web authorisation (snsapi_base).

A member who logged in by WeChat already has it (allauth's `weixin` SocialAccount, whose uid is the
openid under the app allauth uses); one who logged in by phone is sent, just before paying, through
open.weixin.qq.com/connect/oauth2/authorize?…&scope=snsapi_base#wechat_redirect, which WeChat answers
without asking anything, and comes back to `silent_authorisation_callback` with a code.

Guarantees:
- The `state` is 16 random bytes (hex: WeChat takes [a-zA-Z0-9] only) bound to the session (with the user and the appid), used once and
  for 10 minutes at most; a missing, foreign, replayed or stale state is refused.
- `next` never travels in a URL: it is kept in the session, and only a path on this site is followed.
- The code is exchanged by the server at api.weixin.qq.com/sns/oauth2/access_token (with a timeout;
  WeChat's errors come back as HTTP 200 with `errcode`), and the openid is stored per (user, appid)
  in members.WechatOpenId: an openid is only good for the appid it was issued under.
"""

import hmac
import logging
import secrets
import time

import requests
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from wechatpy.oauth import WeChatOAuth

from core.navigation import is_safe_path

from ..models import WechatOpenId

logger = logging.getLogger("members.auth")

SESSION_KEY = "wechat_base_auth"
STATE_TTL_SECONDS = 600
TOKEN_URL = "https://api.weixin.qq.com/sns/oauth2/access_token"
TIMEOUT = (3, 5)


def _login_app_is(appid):
    """The WeChat login (allauth `weixin`) runs under `appid`, so its uid is an openid of that app."""
    from allauth.socialaccount.models import SocialApp

    configured = (getattr(settings, "SOCIALACCOUNT_PROVIDERS", {}).get("weixin", {}).get("APP") or {})
    if configured.get("client_id"):
        return configured["client_id"] == appid
    return SocialApp.objects.filter(provider="weixin", client_id=appid).exists()


def openid_for(user, appid):
    """The user's openid under `appid`, or "" when we do not know it yet."""
    if not appid or not getattr(user, "pk", None):
        return ""
    stored = WechatOpenId.objects.filter(user=user, appid=appid).values_list("openid", flat=True).first()
    if stored:
        return stored
    from allauth.socialaccount.models import SocialAccount

    uid = SocialAccount.objects.filter(user=user, provider="weixin").values_list("uid", flat=True).first()
    if uid and _login_app_is(appid):
        return uid
    return ""


def begin_silent_authorisation(request, *, next_url):
    """The authorize URL to send the (logged-in) shopper to; `next_url`, a path on this site, is
    where the callback goes afterwards. Under the official account WECHAT_APP_ID."""
    if not is_safe_path(next_url):
        raise ValueError("next_url must be a path on this site")
    appid = settings.WECHAT_APP_ID
    state = secrets.token_hex(16)
    request.session[SESSION_KEY] = {
        "state": state, "next": next_url, "user": request.user.pk, "appid": appid, "at": int(time.time()),
    }
    redirect_uri = request.build_absolute_uri(reverse("wechat_base_callback"))
    return WeChatOAuth(appid, "", redirect_uri, scope="snsapi_base", state=state).authorize_url


def exchange_code(appid, code):
    """The openid WeChat gives for an authorisation code, or "" (logged) when it will not."""
    try:
        response = requests.get(TOKEN_URL, params={
            "appid": appid, "secret": settings.WECHAT_APP_SECRET, "code": code, "grant_type": "authorization_code",
        }, timeout=TIMEOUT)
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("snsapi_base code exchange failed: %s", exc)
        return ""
    if not isinstance(data, dict):
        return ""
    openid = data.get("openid")
    if data.get("errcode") or not isinstance(openid, str) or not 0 < len(openid) <= 128:
        logger.warning("snsapi_base code exchange refused: %s %s", data.get("errcode"), data.get("errmsg"))
        return ""
    return openid


@never_cache
@require_GET
def silent_authorisation_callback(request):
    """WeChat sends the shopper back here with ?code=…&state=…: keep the openid, go on to `next`."""
    pending = request.session.pop(SESSION_KEY, None)
    if not isinstance(pending, dict) or not is_safe_path(pending.get("next")):
        messages.error(request, _("微信授权已失效，请重新发起支付"))
        return HttpResponseRedirect(settings.LOGIN_REDIRECT_URL or "/")
    next_url = pending["next"]
    state = request.GET.get("state", "")
    fresh = int(time.time()) - int(pending.get("at", 0)) <= STATE_TTL_SECONDS
    if (
        not fresh
        or not hmac.compare_digest(str(state).encode(), str(pending.get("state", "")).encode())
        or not request.user.is_authenticated
        or request.user.pk != pending.get("user")
    ):
        messages.error(request, _("微信授权已失效，请重新发起支付"))
        return HttpResponseRedirect(next_url)
    code = request.GET.get("code", "")
    openid = exchange_code(pending["appid"], code) if code and len(code) <= 128 else ""
    if not openid:
        messages.error(request, _("未能获取微信授权，请重试"))
        return HttpResponseRedirect(next_url)
    WechatOpenId.objects.update_or_create(user=request.user, appid=pending["appid"], defaults={"openid": openid})
    return HttpResponseRedirect(next_url)
