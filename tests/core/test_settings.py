import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _run(code, env_extra, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_language_and_time_zone():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert ("en", "English") in settings.LANGUAGES
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert settings.AUTH_USER_MODEL == "members.User"


def test_debug_defaults_to_off():
    result = _run(
        "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='config.settings';"
        "from django.conf import settings;print(settings.DEBUG)",
        {},
        drop=("DEBUG",),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_embedded_defaults_need_no_server():
    result = _run(
        "import os;os.environ['DJANGO_SETTINGS_MODULE']='config.settings';"
        "from django.conf import settings;"
        "print(settings.DATABASES['default']['ENGINE']);print(settings.CACHES['default']['BACKEND']);"
        "print(settings.SESSION_ENGINE);print(settings.CELERY_BROKER_URL)",
        {},
        drop=("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"),
    )
    assert result.returncode == 0, result.stderr
    engine, cache, sessions, broker = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert cache.endswith("LocMemCache")
    assert sessions == "django.contrib.sessions.backends.db"
    assert broker == "filesystem://"


def test_redis_url_switches_cache_sessions_and_broker():
    result = _run(
        "import os;os.environ['DJANGO_SETTINGS_MODULE']='config.settings';"
        "from django.conf import settings;"
        "print(settings.CACHES['default']['BACKEND']);print(settings.SESSION_ENGINE);"
        "print(settings.CELERY_BROKER_URL)",
        {"REDIS_URL": "redis://127.0.0.1:6379/3"},
        drop=("CELERY_BROKER_URL",),
    )
    assert result.returncode == 0, result.stderr
    cache, sessions, broker = result.stdout.split()
    assert cache == "core.cache.ResilientRedisCache"  # django-redis; Redis down reads as a miss
    assert sessions == "core.sessions"  # in the database, a copy in Redis: a restart logs nobody out
    assert broker == "redis://127.0.0.1:6379/3"


PRODUCTION_SMS = {
    "SMS_BACKEND": "aliyun",
    "SMS_ACCESS_KEY_ID": "LTAI-example",
    "SMS_ACCESS_KEY_SECRET": "example-secret",
    "SMS_SIGN_NAME": "多门店",
    "SMS_TEMPLATE_CODE": "SMS_123456",
}


def test_check_deploy_is_clean_with_production_environment():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")},
            "SECRET_KEY": "n8#2kq!v0x6z@f4w9r1t5y7u3i8o2p6a4s0d9f7g5h3j1k8l6-Qm7Zr",
            "ALLOWED_HOSTS": "shop.example.cn",
            "CSRF_TRUSTED_ORIGINS": "https://shop.example.cn",
            "HTTPS": "1",
            **PRODUCTION_SMS,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_development_secret_key():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")}, "HTTPS": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr
