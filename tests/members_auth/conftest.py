import pytest

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN"
)


@pytest.fixture
def wechat_app(settings):
    """A configured WeChat official-account app (what WECHAT_APP_ID/WECHAT_APP_SECRET produce)."""
    settings.SOCIALACCOUNT_PROVIDERS = {
        "weixin": {
            "AUTHORIZE_URL": "https://open.weixin.qq.com/connect/oauth2/authorize",
            "SCOPE": ["snsapi_userinfo"],
            "APP": {"client_id": "wx1234567890abcdef", "secret": "wechat-test-secret"},
        }
    }
    return settings.SOCIALACCOUNT_PROVIDERS["weixin"]["APP"]


def last_code(outbox):
    assert outbox, "no SMS was sent"
    return outbox[-1].params["code"]
