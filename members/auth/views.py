"""The pages allauth does not have: shopper login with WeChat first, staff login, bind phone, and the
development SMS outbox. Everything that checks a code or a password is allauth's machinery."""

from allauth.account.internal.flows.phone_verification import ChangePhoneVerificationProcess
from allauth.account.views import LoginView
from allauth.core.exceptions import ImmediateHttpResponse, RateLimited
from allauth.core.ratelimit import consume, consume_or_429
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from core import sms
from core.cache import RETRY_SECONDS, CacheUnavailable
from core.navigation import safe_next, safe_target

from ..models import LegalDocument
from . import code_login as code_login_flow
from .adapter import AccountAdapter
from .consent import current_documents, remember_consent
from .forms import BindPhoneCodeForm, BindPhoneForm, CodeLoginStartForm, PhoneCodeForm, StaffLoginForm
from .merging import MergeError, merge_wechat_account_into
from .phones import mask_phone
from .weixin import is_wechat_browser


def wechat_login_available(request) -> bool:
    """Inside WeChat and with an app configured (WECHAT_APP_ID/SECRET or a SocialApp row)."""
    if not is_wechat_browser(request):
        return False
    return bool(get_social_adapter(request).list_apps(request, provider="weixin"))


def _wait_text(seconds):
    if seconds <= 60:
        return ngettext("%(n)d秒", "%(n)d秒", seconds) % {"n": seconds}
    if seconds < 3600:
        minutes = (seconds + 59) // 60
        return ngettext("%(n)d分钟", "%(n)d分钟", minutes) % {"n": minutes}
    hours = (seconds + 3599) // 3600
    return ngettext("%(n)d小时", "%(n)d小时", hours) % {"n": hours}


def limited_message(seconds):
    return _("验证码发送过于频繁，请%(wait)s后再试") % {"wait": _wait_text(seconds)}


def busy_message():
    return _("验证码服务繁忙，请稍后再试")


@never_cache
@login_not_required
@sensitive_post_parameters("code")
def code_login(request):
    """One page, two steps: phone + consent -> text a code; code -> logged in (or signed up).

    See members.auth.code_login for what is guaranteed. Every POST counts against allauth's
    `login` limit per IP (429 page past it); texts against `request_login_code`.

    While the cache is unreachable the `login` count is skipped (shoppers who already have a code
    can still enter it: a code is only ever texted under `request_login_code`, which refuses then,
    and each code allows ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS tries, counted in the session).
    """
    if request.user.is_authenticated:
        return HttpResponseRedirect(safe_target(request, request.GET.get("next"), settings.LOGIN_REDIRECT_URL))
    if request.method == "POST":
        try:
            limited = consume_or_429(request, action="login")
        except CacheUnavailable:
            limited = None
        if limited:
            return limited
    action = request.POST.get("action") if request.method == "POST" else None
    state = code_login_flow.State.resume(request)
    if state is not None and (state.expired or action == "restart"):
        state.abort()
        if action == "restart" or request.method == "POST":
            if state.expired and action != "restart":
                messages.error(request, _("验证码已过期，请重新获取"))
            return HttpResponseRedirect(_login_url(state.next_url))
        state = None

    if state is not None:
        form = PhoneCodeForm(request.POST if action == "verify" else None)
        if action == "resend":
            if state.resend_in:
                messages.error(request, limited_message(state.resend_in))
            else:
                try:
                    state = code_login_flow.send_code(request, state.phone, state.next_url)
                except code_login_flow.Limited as exc:
                    messages.error(request, limited_message(exc.seconds))
                except code_login_flow.ServiceBusy:
                    messages.error(request, busy_message())
            return HttpResponseRedirect(reverse("account_login"))
        if action == "verify" and form.is_valid():
            if state.check(form.cleaned_data["code"]):
                return code_login_flow.finish_login(request, state)
            if state.attempts_left <= 0:
                state.abort()
                messages.error(request, _("验证码错误次数过多，请重新获取"))
                return HttpResponseRedirect(_login_url(state.next_url))
            form.add_error("code", AccountAdapter.error_messages["incorrect_code"])
        return render(
            request,
            "account/login.html",
            {
                "step": "code",
                "form": form,
                "phone": mask_phone(state.phone),
                "resend_in": state.resend_in,
                "hide_tabbar": True,
            },
        )

    next_url = safe_target(request, request.POST.get("next") if request.method == "POST" else request.GET.get("next"))
    form = CodeLoginStartForm(request.POST if action == "send" else None)
    if action == "send" and form.is_valid():
        remember_consent(request, "phone", form.cleaned_data["phone"])
        try:
            code_login_flow.send_code(request, form.cleaned_data["phone"], next_url)
        except code_login_flow.Limited as exc:
            form.add_error(None, limited_message(exc.seconds))
        except code_login_flow.ServiceBusy:
            form.add_error(None, busy_message())
        else:
            return HttpResponseRedirect(reverse("account_login"))
    return render(
        request,
        "account/login.html",
        {
            "step": "phone",
            "form": form,
            "next": next_url,
            "wechat_login": wechat_login_available(request),
            "hide_tabbar": True,
        },
    )


def _login_url(next_url=""):
    url = reverse("account_login")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@login_not_required
def to_login(request, *args, **kwargs):
    """Sign-up and allauth's own code pages: the one-step login is the only way in (keeps `next`)."""
    return HttpResponseRedirect(_login_url(safe_target(request, request.GET.get("next"))))


@login_not_required
def not_used(request, *args, **kwargs):
    """allauth's e-mail and password pages: this shop has neither e-mail nor shopper passwords."""
    raise Http404


@login_not_required
def legal_document(request, kind):
    newest = current_documents().get(kind)
    if newest is None:
        raise Http404
    doc = LegalDocument.objects.get(pk=newest.pk)
    return render(request, "account/legal.html", {"doc": doc, "hide_tabbar": True})


class StaffLoginView(LoginView):
    """allauth's password login. While the cache that counts failed attempts (`login_failed`) and
    posts per IP (`login`) is unreachable, a password is not checked at all: the page says the login
    service is busy (503, Retry-After), because unlimited guesses are what those limits forbid.
    Staff already logged in keep working (sessions are in the database)."""

    template_name = "account/staff_login.html"

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except CacheUnavailable:
            login = request.POST.get("login", "")[:150] if request.method == "POST" else ""
            context = {
                "form": StaffLoginForm(request=request, initial={"login": login}),
                "busy": _("登录服务繁忙，请稍后再试"),
                "redirect_field_name": "next",
                "redirect_field_value": safe_next(request, ""),
                "hide_tabbar": True,
            }
            response = render(request, self.template_name, context, status=503)
            response["Retry-After"] = str(RETRY_SECONDS)
            return response

    def get_form_class(self):
        return StaffLoginForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["hide_tabbar"] = True
        return context


def _change_phone_allowed(form, request, user):
    """allauth's `change_phone` limit for `user`; False (with the reason on the form) when over it,
    or when the cache that counts is unreachable: no code is texted without counting."""
    try:
        allowed = consume(request, action="change_phone", user=user)
    except CacheUnavailable:
        form.add_error("phone", busy_message())
        return False
    if not allowed:
        form.add_error("phone", _("操作过于频繁，请稍后再试"))
    return allowed


def _bind_url(next_url):
    url = reverse("account_bind_phone")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@never_cache
@login_required
def bind_phone(request):
    """Bind (or change to) a phone number, proven by an SMS code: allauth's change-phone process.

    Step 1 asks for the number and texts a code (rate-limited per user, per number and per IP);
    step 2 checks the code (3 attempts, 5 minutes). A number already bound to another account is
    refused only after its code is entered, so the page cannot be used to probe who is registered;
    a WeChat-only account proving a phone account's number is merged into it (members.auth.merging).
    """
    next_url = safe_next(request, "")
    user = request.user
    process = ChangePhoneVerificationProcess.resume(request)
    action = request.POST.get("action") if request.method == "POST" else None

    if process and action == "restart":
        process.abort()
        return HttpResponseRedirect(_bind_url(next_url))

    if process:
        form = PhoneCodeForm(request.POST if action == "verify" else None)
        if action == "verify" and form.is_valid():
            verify = BindPhoneCodeForm(
                {"code": form.cleaned_data["code"]}, code=process.code, phone=process.phone, user=user
            )
            if verify.is_valid() and verify.merge_into is not None:
                process.abort()
                try:
                    owner = merge_wechat_account_into(user, verify.merge_into)
                except MergeError as exc:
                    messages.error(request, str(exc))
                    return HttpResponseRedirect(_bind_url(next_url))
                auth_login(request, owner, backend="allauth.account.auth_backends.AuthenticationBackend")
                messages.success(request, _("已关联到该手机号的账号"))
                return HttpResponseRedirect(next_url or "/")
            if verify.is_valid():
                try:
                    process.finish()
                except ValidationError as exc:
                    process.abort()
                    messages.error(request, exc.messages[0])
                    return HttpResponseRedirect(_bind_url(next_url))
                messages.success(request, _("手机号绑定成功"))
                return HttpResponseRedirect(next_url or reverse("account_bind_phone"))
            if not process.record_invalid_attempt():
                messages.error(request, _("验证码错误次数过多，请重新获取"))
                return HttpResponseRedirect(_bind_url(next_url))
            for error in verify.errors.get("code", []):
                form.add_error("code", error)
        return render(
            request,
            "account/bind_phone.html",
            {"step": "code", "form": form, "phone": mask_phone(process.phone), "next": next_url, "hide_tabbar": True},
        )

    form = BindPhoneForm(request.POST if action == "send" else None)
    if action == "send" and form.is_valid():
        phone = form.cleaned_data["phone"]
        if user.phone == phone and user.phone_verified:
            form.add_error("phone", _("这已经是您绑定的手机号"))
        elif _change_phone_allowed(form, request, user):
            try:
                ChangePhoneVerificationProcess.initiate(request, phone)
            except RateLimited:
                form.add_error("phone", _("验证码发送过于频繁，请稍后再试"))
            except CacheUnavailable:  # allauth's `verify_phone` limit could not count: no text
                form.add_error("phone", busy_message())
            except ImmediateHttpResponse as exc:  # reauthentication, when turned on
                return exc.response
            else:
                return HttpResponseRedirect(_bind_url(next_url))
    return render(
        request,
        "account/bind_phone.html",
        {
            "step": "phone",
            "form": form,
            "next": next_url,
            "current_phone": mask_phone(user.phone) if user.phone and user.phone_verified else "",
            "hide_tabbar": True,
        },
    )


@never_cache
def dev_sms_outbox(request):
    """Development only (404 unless DEBUG): the last texts sent, so one can log in without a phone."""
    if not settings.DEBUG:
        raise Http404
    if settings.SMS_BACKEND == "locmem":
        items = list(reversed(sms.outbox))[: sms.DEV_OUTBOX_SIZE]
    else:
        items = sms.dev_outbox()
    rows = [{"phone": mask_phone(m.phone), "full_phone": m.phone, "text": m.text, "sent_at": m.sent_at} for m in items]
    return render(request, "account/dev_sms_outbox.html", {"rows": rows, "hide_tabbar": True})


def admin_login(request, extra_context=None):
    """Django admin's own login form is replaced by the staff login (allauth, rate-limited)."""
    if request.user.is_authenticated:
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied
        return HttpResponseRedirect(safe_next(request, reverse("admin:index")))
    next_url = safe_next(request, reverse("admin:index"))
    return HttpResponseRedirect(f"{reverse('account_staff_login')}?{urlencode({'next': next_url})}")


def to_bind_phone(request, *args, **kwargs):
    """allauth's change-phone page: ours is the bind-phone page (same code check, merging)."""
    return HttpResponseRedirect(reverse("account_bind_phone"))
