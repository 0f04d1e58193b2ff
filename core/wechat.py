"""One WeChat API client for every process: its access_token lives in Django's cache (Redis in
production), not in process memory.

WeChat allows about 2,000 access_token requests a day, and fetching a new token invalidates the
one other processes hold. wechatpy keeps the token in the client's `session` storage; giving it
the shared cache means every web worker, Celery worker and notifier reuses the same token until
it expires.
"""

from django.conf import settings
from django.core.cache import cache
from wechatpy import WeChatClient
from wechatpy.session import SessionStorage


class CacheSessionStorage(SessionStorage):
    """wechatpy's session storage on Django's cache."""

    prefix = "wechatpy:"

    def get(self, key, default=None):
        value = cache.get(self.prefix + key)
        return default if value is None else value

    def set(self, key, value, ttl=None):
        cache.set(self.prefix + key, value, ttl)

    def delete(self, key):
        cache.delete(self.prefix + key)


def get_client():
    """A client for the configured official account (WECHAT_APP_ID / WECHAT_APP_SECRET)."""
    return WeChatClient(settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET, session=CacheSessionStorage())
