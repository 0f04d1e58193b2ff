"""A core.notify backend for tests: what members and staff were told, without sending anything."""


class RecordingNotifier:
    """Keeps (user_id, subject, body, kind) in `sent`; the `notices` fixture installs it."""

    sent = []

    def send(self, users, subject, body, *, kind):
        RecordingNotifier.sent.extend((user.pk, subject, body, kind) for user in users)
        return len(users)
