"""Domain errors carry a code (for tests and logs) and a translatable message (for people).

Each app subclasses DomainError with its own codes, following Saleor's error_codes: views turn
the error into a form error or a message; nothing half-done is left behind because every service
raises before it writes, or inside a transaction that rolls back.
"""


class DomainError(Exception):
    code = "invalid"

    def __init__(self, message, *, code=None, params=None):
        self.message = message
        if code:
            self.code = code
        self.params = params or {}
        super().__init__(str(message))

    def __str__(self):
        message = str(self.message)
        return message % self.params if self.params else message
