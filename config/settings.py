"""Settings for the whole project, read from the environment.

Embedded defaults (no variable set) give a self-contained shop: SQLite under var/, local-memory
cache, database sessions and a Celery broker on the filesystem. Production sets DATABASE_URL,
REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and HTTPS=1; every variable is listed in .env.example.
"""

from pathlib import Path

import environ

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
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
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
                "stores.context_processors.chosen_store",
                "stores.context_processors.store_notifications",
            ],
        },
    },
]

# --- data -----------------------------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # several processes (web, worker) share the file under make run
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="md"),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "md"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
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
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_PROVIDERS = {}

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
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "core.storage.StaticStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

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

# --- celery ---------------------------------------------------------------------------------
CELERY_BROKER_DIR = VAR_DIR / "celery" / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # no server needed: kombu's filesystem transport; worker and web share this folder
    CELERY_BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR),
        "data_folder_out": str(CELERY_BROKER_DIR),
        "processed_folder": str(CELERY_BROKER_DIR),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
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
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
SMS_ACCESS_KEY_ID = env.str("SMS_ACCESS_KEY_ID", default="")
SMS_ACCESS_KEY_SECRET = env.str("SMS_ACCESS_KEY_SECRET", default="")
SMS_SIGN_NAME = env.str("SMS_SIGN_NAME", default="")
SMS_TEMPLATE_CODE = env.str("SMS_TEMPLATE_CODE", default="")

# --- catalogue --------------------------------------------------------------------------------
# Thumbnails are generated once on upload (catalog.services.generate_thumbnails), never per request.
THUMBNAIL_ALIASES = {
    "": {
        "card": {"size": (360, 360), "crop": "smart", "quality": 85},
        "detail": {"size": (750, 750), "crop": False, "quality": 85},
    }
}
# django-import-export: a CSV either imports completely or reports its errors and saves nothing.
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
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

# --- demo data ------------------------------------------------------------------------------
# seed_demo calls each of these in order; every app that has demo data adds its seeder here.
DEMO_SEEDERS = [
    "catalog.demo.seed",
    "stores.demo.seed",
    "members.demo.seed",
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
