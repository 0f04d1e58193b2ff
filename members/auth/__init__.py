"""Signing in: phone + SMS code and WeChat through django-allauth, staff by username + password.

The pieces allauth lets us plug in live here (adapters, forms, the WeChat in-app OAuth adapter),
plus the few pages allauth does not have: staff login, bind phone, the development SMS outbox.
"""
