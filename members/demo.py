"""Demo accounts. The passwords are published in the README: demo only."""

from django.contrib.auth import get_user_model

DEMO_ADMIN = {"username": "admin", "password": "admin-demo-2026"}


def seed(out):
    User = get_user_model()
    admin, created = User.objects.get_or_create(
        username=DEMO_ADMIN["username"],
        defaults={"nickname": "总部管理员", "is_staff": True, "is_superuser": True},
    )
    if created:
        admin.set_password(DEMO_ADMIN["password"])
        admin.save(update_fields=["password"])
    out(f"  HQ admin: {DEMO_ADMIN['username']} / {DEMO_ADMIN['password']}  (/admin/ and /backoffice/)")
    return int(created)
