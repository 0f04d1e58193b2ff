"""Payments: the gateway interface every channel implements, the development gateway, and the
services that start payments, take confirmations (notifications and queries) and send money back."""
