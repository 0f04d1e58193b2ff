import responses

from core.wechat import get_client


@responses.activate
def test_the_access_token_is_fetched_once_and_shared_through_the_cache(settings):
    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx-app", "secret"
    token = responses.get(
        "https://api.weixin.qq.com/cgi-bin/token",
        json={"access_token": "TOKEN-1", "expires_in": 7200},
    )
    # two clients, as two processes would build them
    assert get_client().access_token == "TOKEN-1"
    assert get_client().access_token == "TOKEN-1"
    assert token.call_count == 1
