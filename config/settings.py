"""Settings for the whole project, read from the environment.

Embedded defaults (no variable set) give a self-contained shop: SQLite under var/, local-memory
cache, database sessions and a Celery broker on the filesystem. Production sets DATABASE_URL,
REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and HTTPS=1; every variable is listed in .env.example.
"""

from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    env.read_env(str(env_file))

# --- core -----------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-dev-only-change-me-in-production-0123456789")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_NAME = env.str("SITE_NAME", default="多门店分销")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "mptt",
    "import_export",
    "easy_thumbnails",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.weixin",
    # ours, in dependency order (DESIGN.md): each app imports only those above it
    "core",
    "catalog",
    "members",
    "stores",
    "marketing",
    "orders",
    "distribution",
]

MIDDLEWARE = [
    # first: it removes a file uploaded by a request whose row was never committed (core.uploads)
    "core.uploads.UploadCleanupMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # after CSPMiddleware: back-office pages may compile the scanner's WebAssembly (core.middleware)
    "core.middleware.BackofficeScannerPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "core.middleware.RefuseNulMiddleware",  # a NUL anywhere in the request: 400 before any view
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # a database or Redis outage raised out of a view: 503 + Retry-After and one log line
    "core.outages.OutageMiddleware",
    # "not found" / "not your store" under /backoffice/: the back office's 404 page, DEBUG or not
    "core.error_pages.BackofficeNotFoundMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",
                "members.auth.context_processors.auth_pages",
                "stores.context_processors.chosen_store",
                "stores.context_processors.store_notifications",
                "marketing.context_processors.home_marketing",
                "orders.context_processors.cart_badge",
                # last: while catalog.pagecache keeps a page, the visitor's own parts are markers
                "catalog.pagecache.context",
            ],
        },
    },
]

# --- data -----------------------------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL: the statements core.prepared compiles once are also prepared on the server once per
# connection; turn off behind a pooler in transaction mode (PgBouncer), where sessions are shared
DB_SERVER_PREPARE = env.bool("DB_SERVER_PREPARE", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # several processes (web, worker) share the file under make run
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# Timeouts on every PostgreSQL connection, so that one slow transaction holding a hot row (a stock
# row, a member) cannot hold every gunicorn thread with it: a request waits at most
# DB_LOCK_TIMEOUT_MS for a row lock and DB_STATEMENT_TIMEOUT_MS for one statement, then fails with
# an OperationalError that rolls its transaction back and answers 503 + Retry-After (core.outages).
# Both stay well under the proxy's 30 s (deploy/nginx.conf, deploy/gunicorn.conf.py), so a request
# never commits after the shopper's proxy gave up on it. The worker and manage.py commands use the
# longer DB_TASK_* values instead (core.dbtimeouts). 0 turns a timeout off. SQLite has none of this.
DB_LOCK_TIMEOUT_MS = env.int("DB_LOCK_TIMEOUT_MS", default=3000)
DB_STATEMENT_TIMEOUT_MS = env.int("DB_STATEMENT_TIMEOUT_MS", default=15000)
DB_TASK_LOCK_TIMEOUT_MS = env.int("DB_TASK_LOCK_TIMEOUT_MS", default=10000)
DB_TASK_STATEMENT_TIMEOUT_MS = env.int("DB_TASK_STATEMENT_TIMEOUT_MS", default=300000)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options["options"] = " ".join(filter(None, [
        _db_options.get("options", ""),
        f"-c lock_timeout={max(DB_LOCK_TIMEOUT_MS, 0)}",
        f"-c statement_timeout={max(DB_STATEMENT_TIMEOUT_MS, 0)}",
    ]))
    # a database host that does not answer (not one that refuses) fails in seconds, not minutes
    _db_options.setdefault("connect_timeout", 5)
# Outages (database or Redis unreachable, a lock or statement timeout) answer 503 with this
# Retry-After, in the look of the page asked for (core.outages).
OUTAGE_RETRY_AFTER_SECONDS = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Redis down is a cache miss, not a 500 (core.cache); rate-limit counters and the health probe
    # are the keys that must not be silently lost: they raise, and their callers refuse politely.
    CACHES = {
        "default": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="md"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                "STRICT_KEY_PREFIXES": ["allauth:rl:", "healthz:"],
            },
        }
    }
    # sessions live in the database with a copy in Redis: a Redis restart or outage logs nobody out
    SESSION_ENGINE = "core.sessions"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "md"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    # first: each user's permission set kept in the cache (core.permissions); it authenticates
    # nobody, so logins (and the sessions they make) stay with the two below
    "core.permissions.CachedPermissionsBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
# The back office sends anonymous visitors to the staff (username + password) login instead.
STAFF_LOGIN_URL = "account_staff_login"
# Shoppers sign in by phone + SMS code (or WeChat); staff by username + password on their own page.
ACCOUNT_ADAPTER = "members.auth.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "members.auth.adapter.SocialAccountAdapter"
ACCOUNT_FORMS = {
    "login": "members.auth.forms.PhoneLoginForm",
    "signup": "members.auth.forms.PhoneSignupForm",
    "confirm_login_code": "members.auth.forms.ConfirmCodeForm",
    "verify_phone": "members.auth.forms.VerifyPhoneCodeForm",
}
ACCOUNT_LOGIN_METHODS = {"phone", "username"}
# "phone" is optional for allauth so that WeChat users (auto signup, no phone yet) and staff (no
# phone) can log in; our signup form requires it. allauth then warns (account.W001) that no login
# method is a required signup field, which is exactly this choice.
ACCOUNT_SIGNUP_FIELDS = ["phone"]
SILENCED_SYSTEM_CHECKS = ["account.W001"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 300
ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS = 3
ACCOUNT_PHONE_VERIFICATION_TIMEOUT = 300
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_LOGOUT_ON_GET = False
ALLAUTH_USER_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
# Limits live in the cache (Redis in production, shared by every worker). Per phone ("key") and per IP.
ACCOUNT_RATE_LIMITS = {
    "request_login_code": "20/m/ip,1/m/key,10/d/key",
    "verify_phone": "1/m/key,10/d/key,10/m/ip",
    "change_phone": "3/m/user",
    "login_failed": "10/m/ip,5/300s/key",
    "signup": "20/m/ip",
    "login": "30/m/ip",
}
# Behind the nginx of docker-compose (HTTPS=1) the client address is the last X-Forwarded-For hop.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if env.bool("HTTPS", default=False) else 0)
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
# WeChat web authorisation inside WeChat (official account): open.weixin.qq.com/connect/oauth2/authorize.
SOCIALACCOUNT_PROVIDERS = {
    "weixin": {
        "AUTHORIZE_URL": "https://open.weixin.qq.com/connect/oauth2/authorize",
        "SCOPE": ["snsapi_userinfo"],
    }
}

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    # uploads appear complete or not at all (core.storage.MediaStorage)
    "default": {"BACKEND": "core.storage.MediaStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "core.storage.StaticStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# An uploaded image with more pixels than this (width × height) is refused before it is decoded
# (core.images); Pillow refuses to decode anything over twice this anywhere in the process.
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=6000 * 6000)

# --- security -------------------------------------------------------------------------------
# HTTPS=1 behind a TLS-terminating proxy (nginx in docker-compose) turns on every HTTPS-only setting.
HTTPS = env.bool("HTTPS", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# Content-Security-Policy (django-csp) on every page, shop, back office and admin: scripts only
# from this site (every script is a file served by the app: no inline script, no eval, no CDN),
# no plugins, no framing. Inline style attributes stay allowed (WeUI and htmx's indicator style
# use them). Back-office pages add 'wasm-unsafe-eval' for the camera scanner's WebAssembly
# decoder (core.middleware.BackofficeScannerPolicyMiddleware). CSP_REPORT_ONLY=1 sends it as
# Content-Security-Policy-Report-Only instead (to try a change of policy on a live shop first).
_CSP = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

# --- celery ---------------------------------------------------------------------------------
CELERY_BROKER_DIR = VAR_DIR / "celery" / "broker"
# Task messages are acknowledged after the work (acks_late) and handed back to the queue when the
# worker process dies under a task (reject_on_worker_lost): a killed worker loses no one-off task, and
# every task is idempotent under that redelivery. Redis redelivers a message not acknowledged within
# CELERY_VISIBILITY_TIMEOUT seconds (this is also how the task of a worker killed with SIGKILL comes
# back), so it must exceed the longest task: CELERY_TASK_TIME_LIMIT stops any task before that.
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
if REDIS_URL:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
    if CELERY_BROKER_URL.startswith("redis://"):
        # kombu's Redis transport with one publishing client per channel (config/broker.py)
        CELERY_BROKER_TRANSPORT = "config.broker:Transport"
else:
    # no server needed: kombu's filesystem transport; worker and web share this folder
    CELERY_BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR),
        "data_folder_out": str(CELERY_BROKER_DIR),
        "processed_folder": str(CELERY_BROKER_DIR),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# a task whose broker connection is lost will be redelivered: stop it rather than run it twice at once
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"  # docker-compose's worker consumes `-Q default`
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
# beat runs as its own process (never `worker -B`), and a second beat on the same schedule file
# refuses to start (config.beat): every periodic task is sent once
CELERY_BEAT_SCHEDULER = "config.beat.SingleBeatScheduler"
# Every timed job lives here; each app adds its own entries (see DESIGN.md).
CELERY_BEAT_SCHEDULE = {
    "stores.sweep_low_stock": {
        "task": "stores.tasks.sweep_low_stock",
        "schedule": 10 * 60,
    },
    "catalog.apply_listing_schedule": {
        "task": "catalog.tasks.apply_listing_schedule",
        "schedule": 60,
    },
    "members.clear_expired_sessions": {
        "task": "members.tasks.clear_expired_sessions",
        "schedule": 24 * 3600,
    },
    "members.notify_expiring_points": {
        "task": "members.tasks.notify_expiring_points",
        "schedule": 24 * 3600,
    },
    "members.grant_birthday_gifts": {
        "task": "members.tasks.grant_birthday_gifts",
        "schedule": 3600,  # hourly: idempotent per member and year, so a missed midnight costs nothing
    },
    "members.expire_points": {
        "task": "members.tasks.expire_points",
        "schedule": 3600,
    },
    "marketing.expire_overdue_pickups": {
        "task": "marketing.tasks.expire_overdue_pickups",
        "schedule": 15 * 60,
    },
    "marketing.expire_member_coupons": {
        "task": "marketing.tasks.expire_member_coupons",
        "schedule": 3600,
    },
    "orders.cancel_overdue_orders": {
        "task": "orders.tasks.cancel_overdue_orders",
        "schedule": 60,
    },
    "orders.confirm_overdue_receipts": {
        "task": "orders.tasks.confirm_overdue_receipts",
        "schedule": 3600,
    },
    "orders.retry_refunds": {
        "task": "orders.tasks.retry_refunds",
        "schedule": 5 * 60,
    },
    "orders.query_pending_payments": {
        "task": "orders.tasks.query_pending_payments",
        "schedule": 60,
    },
    "orders.close_payment_attempts": {
        "task": "orders.tasks.close_payment_attempts",
        "schedule": 5 * 60,
    },
}

# --- outside services (empty placeholders: each adapter refuses to start half-configured) ----
WECHAT_APP_ID = env.str("WECHAT_APP_ID", default="")
WECHAT_APP_SECRET = env.str("WECHAT_APP_SECRET", default="")
WECHAT_PAY_MCHID = env.str("WECHAT_PAY_MCHID", default="")
WECHAT_PAY_APIV3_KEY = env.str("WECHAT_PAY_APIV3_KEY", default="")
WECHAT_PAY_CERT_SERIAL_NO = env.str("WECHAT_PAY_CERT_SERIAL_NO", default="")
WECHAT_PAY_PRIVATE_KEY_PATH = env.str("WECHAT_PAY_PRIVATE_KEY_PATH", default="")
WECHAT_PAY_PUBLIC_KEY_PATH = env.str("WECHAT_PAY_PUBLIC_KEY_PATH", default="")
WECHAT_PAY_PUBLIC_KEY_ID = env.str("WECHAT_PAY_PUBLIC_KEY_ID", default="")
ALIPAY_APP_ID = env.str("ALIPAY_APP_ID", default="")
ALIPAY_APP_PRIVATE_KEY_PATH = env.str("ALIPAY_APP_PRIVATE_KEY_PATH", default="")
ALIPAY_PUBLIC_KEY_PATH = env.str("ALIPAY_PUBLIC_KEY_PATH", default="")
ALIPAY_SELLER_ID = env.str("ALIPAY_SELLER_ID", default="")
ALIPAY_SANDBOX = env.bool("ALIPAY_SANDBOX", default=False)
PAYMENT_DEV_GATEWAY = env.bool("PAYMENT_DEV_GATEWAY", default=DEBUG)
# The site's public address for the gateways' notification URLs (https in production), e.g.
# https://shop.example.com: Alipay posts to PAYMENT_NOTIFY_BASE_URL + /payments/alipay/notify/.
PAYMENT_NOTIFY_BASE_URL = env.str("PAYMENT_NOTIFY_BASE_URL", default="").rstrip("/")
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
# The console backend writes login codes to the log: with DEBUG off it runs only when this says so
# (a staging server without an SMS provider), and `check --deploy` warns while it does.
SMS_CONSOLE_ALLOWED = env.bool("SMS_CONSOLE_ALLOWED", default=False)
SMS_ACCESS_KEY_ID = env.str("SMS_ACCESS_KEY_ID", default="")
SMS_ACCESS_KEY_SECRET = env.str("SMS_ACCESS_KEY_SECRET", default="")
SMS_SIGN_NAME = env.str("SMS_SIGN_NAME", default="")
SMS_TEMPLATE_CODE = env.str("SMS_TEMPLATE_CODE", default="")
# core.sms.send_sms(phone, template, params): template name -> provider template code + how it reads.
SMS_TEMPLATES = {
    "verification_code": {
        "code": SMS_TEMPLATE_CODE,
        "text": "【" + (SMS_SIGN_NAME or "多门店分销") + "】您的验证码为{code}，5分钟内有效，请勿泄露给他人。",
    },
}
if WECHAT_APP_ID and WECHAT_APP_SECRET:
    SOCIALACCOUNT_PROVIDERS["weixin"]["APP"] = {"client_id": WECHAT_APP_ID, "secret": WECHAT_APP_SECRET}

# --- members: points and levels --------------------------------------------------------------
POINTS_PER_YUAN_DEDUCTION = env.int("POINTS_PER_YUAN_DEDUCTION", default=100)  # 100 points = 1 yuan at checkout
POINTS_MAX_DEDUCTION_RATIO = env.str("POINTS_MAX_DEDUCTION_RATIO", default="0.5")  # share of the order total
POINTS_PER_YUAN_EARNED = env.int("POINTS_PER_YUAN_EARNED", default=1)  # x level multiplier, on completion
GROWTH_PER_YUAN = env.int("GROWTH_PER_YUAN", default=1)
SIGN_IN_BASE_POINTS = env.int("SIGN_IN_BASE_POINTS", default=5)
SIGN_IN_STREAK_BONUS = env.int("SIGN_IN_STREAK_BONUS", default=1)  # extra points per consecutive day
SIGN_IN_STREAK_BONUS_MAX = env.int("SIGN_IN_STREAK_BONUS_MAX", default=5)
SHARE_POINTS = env.int("SHARE_POINTS", default=2)
SHARE_DAILY_CAP = env.int("SHARE_DAILY_CAP", default=3)  # rewarded shares per day
REVIEW_POINTS = env.int("REVIEW_POINTS", default=10)
POINTS_EXPIRY_MODE = env.str("POINTS_EXPIRY_MODE", default="yearly")  # yearly | rolling | never
POINTS_EXPIRY_DAYS = env.int("POINTS_EXPIRY_DAYS", default=365)  # rolling mode only
POINTS_EXPIRY_NOTICE_DAYS = env.int("POINTS_EXPIRY_NOTICE_DAYS", default=30)
# Dotted callables f(request) -> dict merged into the member centre context (e.g. coupon count
# from marketing), so members never imports a higher app.
MEMBER_CENTRE_EXTRAS = ["marketing.selectors.member_centre_extras", "orders.selectors.member_centre_extras"]
# columns the apps above members add to the member centre's one statement (members.centre), read by
# their MEMBER_CENTRE_EXTRAS from request.member_centre_counts
MEMBER_CENTRE_COUNTS = ["marketing.selectors.member_centre_counts", "orders.selectors.member_centre_counts"]

# --- marketing: points mall -------------------------------------------------------------------
# columns the apps above marketing add to the mall's balance statement (marketing.views), read
# from request.points_mall_counts (the cart badge's pieces)
POINTS_MALL_COUNTS = ["orders.selectors.points_mall_counts"]
# pickup codes typed at a counter (stores.lookups): lookups that found nothing within the window,
# per staff member and per store, before further lookups wait
CODE_LOOKUP_WINDOW_MINUTES = env.int("CODE_LOOKUP_WINDOW_MINUTES", default=10)
CODE_LOOKUP_MISSES_PER_USER = env.int("CODE_LOOKUP_MISSES_PER_USER", default=10)
CODE_LOOKUP_MISSES_PER_STORE = env.int("CODE_LOOKUP_MISSES_PER_STORE", default=30)
POINTS_MALL_PICKUP_DAYS = env.int("POINTS_MALL_PICKUP_DAYS", default=7)  # then the exchange expires, points back

# Cards other apps add to the back office's home page (core.backoffice.dashboard_extras).
BACKOFFICE_DASHBOARD_EXTRAS = ["orders.backoffice.home.dashboard_cards", "stores.backoffice_home.workbench_cards"]
# More columns for HQ's per-store table on the workbench: function(user, store_ids or None) ->
# [(key, label, {store_id: count}, url(store_id=None))] (stores may not import the apps that count)
WORKBENCH_STORE_FIGURES = ["orders.backoffice.home.workbench_store_figures"]

# --- orders -----------------------------------------------------------------------------------
ORDER_PAY_TIMEOUT_MINUTES = env.int("ORDER_PAY_TIMEOUT_MINUTES", default=30)  # unpaid orders cancelled after
ORDER_AUTO_CONFIRM_DAYS = env.int("ORDER_AUTO_CONFIRM_DAYS", default=7)  # shipped -> completed automatically
ORDER_AFTER_SALE_DAYS = env.int("ORDER_AFTER_SALE_DAYS", default=7)  # after completion, refunds may be asked
# Payment channels: {channel: gateway class}. A gateway whose settings are incomplete is not offered.
PAYMENT_GATEWAYS = {
    "dev": "orders.payments.dev.DevGateway",
    "wechat_jsapi": "orders.payments.wechatpay.WeChatJsapiGateway",
    "wechat_h5": "orders.payments.wechatpay.WeChatH5Gateway",
    "wechat_native": "orders.payments.wechatpay.WeChatNativeGateway",
    "alipay_wap": "orders.payments.alipay.AlipayWapGateway",
}
# Daily reconciliation with the gateways' bills (orders.payments.reconcile): a day's bills can be
# downloaded from PAYMENT_BILL_READY_HOUR (local time) the next morning; the beat tries every hour from
# 10:30 until each of the last PAYMENT_RECONCILE_DAYS days has compared with every bill.
PAYMENT_BILL_READY_HOUR = 10
PAYMENT_RECONCILE_DAYS = 3
CELERY_BEAT_SCHEDULE["orders.reconcile_payments"] = {
    "task": "orders.tasks.reconcile_payments",
    "schedule": crontab(minute=30, hour="10-23"),  # in CELERY_TIMEZONE (Asia/Shanghai)
}
# Parcel tracking (orders.tracking): "orders.tracking.ManualTracking" (no network: staff type the
# route lines) or "orders.tracking.Kuaidi100Tracking" (Kuaidi100's real-time query; needs
# KUAIDI100_CUSTOMER and KUAIDI100_KEY). The worker asks about shipped parcels every
# ORDER_TRACKING_POLL_HOURS, at most ORDER_TRACKING_POLL_BATCH per run.
ORDER_TRACKING_PROVIDER = env.str("ORDER_TRACKING_PROVIDER", default="orders.tracking.ManualTracking")
ORDER_TRACKING_POLL_HOURS = env.int("ORDER_TRACKING_POLL_HOURS", default=2)
ORDER_TRACKING_POLL_BATCH = env.int("ORDER_TRACKING_POLL_BATCH", default=200)
KUAIDI100_CUSTOMER = env.str("KUAIDI100_CUSTOMER", default="")
KUAIDI100_KEY = env.str("KUAIDI100_KEY", default="")
KUAIDI100_TIMEOUT_SECONDS = env.int("KUAIDI100_TIMEOUT_SECONDS", default=10)
CELERY_BEAT_SCHEDULE["orders.poll_tracking"] = {
    "task": "orders.tasks.poll_tracking",
    "schedule": ORDER_TRACKING_POLL_HOURS * 3600,
}

# --- catalogue --------------------------------------------------------------------------------
# Thumbnails are generated once on upload (catalog.services.generate_thumbnails), never per request.
THUMBNAIL_ALIASES = {
    "": {
        "card": {"size": (360, 360), "crop": "smart", "quality": 85},
        "detail": {"size": (750, 750), "crop": False, "quality": 85},
    },
    # 门店相册 (stores.photos): "strip" for the shop page's swipe strip and the store's cover (a
    # cover picked from the gallery is that photo's strip thumbnail), the whole picture within
    # 750 px; "thumb" for the back office's and the admin's 4:3 tiles, cropped to fill them
    "stores.StorePhoto.image": {
        "strip": {"size": (750, 750), "crop": False, "quality": 82},
        "thumb": {"size": (400, 300), "crop": "smart", "quality": 80},
    },
}
# django-import-export: a CSV either imports completely or reports its errors and saves nothing.
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
# Without these django-import-export lets any staff user import and export every model: a store
# clerk could download all shoppers' phones and the cost prices.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
# Dotted path of a function (request, product, skus) -> {sku_id: {"available": int, "state":
# "in_stock"|"low"|"out"}} giving the product page its stock states; None shows "有货" (unknown).
# The stores app sets it (catalog must not import stores).
CATALOG_STOCK_PROVIDER = env.str("CATALOG_STOCK_PROVIDER", default="") or None

# --- stores -----------------------------------------------------------------------------------
# Messages to staff (low stock...): core.notify sends through each of these classes in turn.
# Add "core.notify.WeChatTemplateNotifier" (needs WECHAT_NOTIFY_TEMPLATE_ID) or "core.notify.SmsNotifier".
NOTIFIER_BACKENDS = env.list("NOTIFIER_BACKENDS", default=["core.notify.LogNotifier"])
WECHAT_NOTIFY_TEMPLATE_ID = env.str("WECHAT_NOTIFY_TEMPLATE_ID", default="")
NOTIFIER_SMS_TEMPLATE = "staff_notice"
# Stock history shows references as words and links: {kind: function(ids) -> {id: (label, url)}}.
STOCK_REFERENCE_LINKS = {
    "order": "orders.backoffice.links.order_links",
    "mall": "marketing.links.mall_links",
    "transfer": "stores.references.transfer_links",
    "doc": "stores.references.document_links",
}
# Which of a store's staff a low-stock alert reaches (StoreStaff roles): managers and clerks by default.
LOW_STOCK_NOTIFY_ROLES = env.list("LOW_STOCK_NOTIFY_ROLES", default=["manager", "clerk"])
try:
    SMS_TEMPLATES.setdefault(
        "staff_notice",
        {"code": env.str("SMS_TEMPLATE_STAFF_NOTICE", default=""), "optional": True, "text": "{subject}：{body}"},
    )
except NameError:  # core.sms's template table not defined
    pass
# Product pages show availability in the shopper's chosen store (catalog calls this; see stores.selectors).
if not globals().get("CATALOG_STOCK_PROVIDER"):
    CATALOG_STOCK_PROVIDER = "stores.selectors.stock_for_product"
# (product_ids) -> the ids in stock in a store taking orders: the rest show 已售罄 and leave the home page.
CATALOG_IN_STOCK_PROVIDER = "stores.selectors.products_in_stock"
# (request, product, sku_ids, next_url) -> the product page's store panel: chosen store, nearby stores having it.
CATALOG_STORE_PANEL_PROVIDER = "stores.selectors.store_panel"
# Whole pages kept for visitors not logged in (catalog.pagecache: home, category lists, product
# pages), thrown away precisely when what they show changes. Needs the shared cache (Redis): on by
# default with REDIS_URL, off without (a worker could not reach the web server's memory).
CATALOG_PAGE_CACHE = env.bool("CATALOG_PAGE_CACHE", default=bool(REDIS_URL))
# how often (seconds) a process checks a kept page's versions again: a change made by another
# process shows within this time, one made by the same process at once
CATALOG_PAGE_CACHE_RECHECK = env.float("CATALOG_PAGE_CACHE_RECHECK", default=1.0)
# what else a kept page differs by: functions of the request (the chosen store, the saved location)
CATALOG_PAGE_CACHE_VARY = ["stores.selectors.page_cache_vary"]
# the 购物车 badge of a visitor with a session (catalog must not import orders)
CATALOG_PAGE_CACHE_CART_COUNT = "orders.selectors.cart_count"
# the same badge on the pages whose layout core.shell keeps (core must not import orders)
SHELL_CART_COUNT = "orders.selectors.cart_count"

# --- demo data ------------------------------------------------------------------------------
# seed_demo calls each of these in order; every app that has demo data adds its seeder here.
DEMO_SEEDERS = [
    "catalog.demo.seed",
    "stores.demo.seed",
    "members.demo.seed",
    "stores.demo.seed_photos",  # after members.demo: added by the HQ admin it makes
    "marketing.demo.seed",
    "marketing.home_demo.seed",
    "orders.demo.seed",
]

# --- logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- benchmarks -----------------------------------------------------------------------------
# The hello-world baseline view is mounted only when the benchmark harness asks for it.
BENCH_ENDPOINTS = env.bool("BENCH_ENDPOINTS", default=False)
