"""One-step login or sign-up: a phone number and its SMS code (未注册的手机号验证后自动注册).

Guarantees:
- Nothing is written before the code is checked: an unknown number gets its account only when its
  code is entered (a failed or abandoned sign-up leaves nothing), a known one is logged in.
- Every number, known or not, gets the same text (the verification code) and the same pages, so
  the page cannot tell who is registered and nobody is told "not registered".
- Codes: allauth's generator (6 ASCII digits), kept in the session with the number, valid
  ACCOUNT_LOGIN_BY_CODE_TIMEOUT seconds, ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS wrong tries.
- Rate limits are allauth's `request_login_code` (per IP, per number per minute and per day), in
  the shared cache; a refusal says how long to wait. A resend waits RESEND_SECONDS after the last text.
  While the cache is unreachable no text is sent (ServiceBusy: "验证码服务繁忙"): counting is what
  stops a script from texting thousands of numbers at the shop's expense.
- `next` is kept in the session and only a local path is followed.
"""

import hmac
import time

from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.login import perform_login
from allauth.account.models import Login
from allauth.core.internal import ratelimit as rl
from allauth.core.ratelimit import consume
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from core.cache import CacheUnavailable

SESSION_KEY = "phone_code_login"
RESEND_SECONDS = 60
RATE_ACTION = "request_login_code"


def wait_seconds(request, phone) -> int:
    """How long until `request_login_code` would let one more text to `phone` through (0: now)."""
    rates = rl.get_rates(app="allauth.account", action=RATE_ACTION)
    now = time.time()
    wait = 0.0
    from django.core.cache import cache

    for rate in rates:
        key = rl.get_cache_key(request, app="allauth.account", action=RATE_ACTION, rate=rate, key=phone)
        history = [t for t in cache.get(key, []) if t > now - rate.duration]
        if len(history) >= rate.amount:
            # history is newest first: the slot frees when the oldest counted hit expires
            wait = max(wait, history[rate.amount - 1] + rate.duration - now)
    return max(1, int(wait + 0.999)) if wait else 0


class State:
    """The pending login in the session: phone, code, when it was sent, wrong tries, next."""

    def __init__(self, request, data):
        self.request = request
        self.data = data

    @classmethod
    def resume(cls, request):
        data = request.session.get(SESSION_KEY)
        if not isinstance(data, dict) or "phone" not in data:
            return None
        return cls(request, data)

    @property
    def phone(self):
        return self.data["phone"]

    @property
    def next_url(self):
        return self.data.get("next", "")

    @property
    def expired(self):
        return time.time() > self.data["sent_at"] + settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT

    @property
    def resend_in(self) -> int:
        return max(0, int(self.data["sent_at"] + RESEND_SECONDS - time.time() + 0.999))

    def save(self):
        self.request.session[SESSION_KEY] = self.data

    def abort(self):
        self.request.session.pop(SESSION_KEY, None)

    def check(self, code: str) -> bool:
        """True when `code` is the one sent; a wrong one counts against the tries."""
        if hmac.compare_digest(code.encode(), self.data["code"].encode()):
            return True
        self.data["attempts"] = self.data.get("attempts", 0) + 1
        self.save()
        return False

    @property
    def attempts_left(self):
        return settings.ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS - self.data.get("attempts", 0)


class Limited(Exception):
    def __init__(self, seconds):
        super().__init__(seconds)
        self.seconds = seconds


class ServiceBusy(Exception):
    """The rate-limit counters cannot be read (cache unreachable): no text is sent."""


def send_code(request, phone, next_url="") -> State:
    """Text a fresh code to `phone` and keep it in the session; raises Limited(seconds) or
    ServiceBusy instead."""
    try:
        if not consume(request, action=RATE_ACTION, key=phone):
            raise Limited(wait_seconds(request, phone) or RESEND_SECONDS)
    except CacheUnavailable as exc:
        raise ServiceBusy from exc
    code = get_adapter(request).generate_login_code()
    state = State(request, {"phone": phone, "code": code, "sent_at": time.time(), "attempts": 0, "next": next_url})
    state.save()
    get_adapter(request)._text(phone, "verification_code", {"code": code})
    return state


def user_for_phone(phone):
    """The account the proven `phone` logs into, created when the number is new: (user, created).

    A number someone typed but never proved (an old sign-up left half done) belongs to whoever
    proves it now: that account is the one logged into, its phone marked verified.
    """
    User = get_user_model()
    user = User.objects.filter(phone=phone).first()
    if user is not None:
        if not user.phone_verified:
            User.objects.filter(pk=user.pk).update(phone_verified=True)
            user.phone_verified = True
        return user, False
    digits = phone.removeprefix("+86")
    user = User(phone=phone, phone_verified=True)
    user.username = get_adapter().generate_unique_username([f"m{digits}", "user"])
    user.set_unusable_password()
    user.registration_source = "phone"  # read by members.receivers (Member.Source.PHONE)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # the same number proven twice at once (a double submit): the first one made the account
        return User.objects.get(phone=phone), False
    return user, True


def finish_login(request, state):
    """The code was right: log into (or create) the account and answer the redirect."""
    state.abort()
    user, created = user_for_phone(state.phone)
    # an explicit redirect: allauth would otherwise read `next` from this request, unchecked by us
    login = Login(user=user, redirect_url=state.next_url or settings.LOGIN_REDIRECT_URL, signup=created)
    return perform_login(request, login)
