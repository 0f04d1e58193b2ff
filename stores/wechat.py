"""WeChat JS-SDK signing (the documented algorithm, so it is testable without WeChat)."""

import hashlib


def jsapi_signature(ticket, noncestr, timestamp, url):
    """SHA1 of `jsapi_ticket=...&noncestr=...&timestamp=...&url=...` (keys in ASCII order), with
    the page URL's `#fragment` removed."""
    url = str(url).split("#", 1)[0]
    pairs = {"jsapi_ticket": ticket, "noncestr": noncestr, "timestamp": timestamp, "url": url}
    raw = "&".join(f"{key}={pairs[key]}" for key in sorted(pairs))
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()
