"""Staff accounts with exactly the model permissions a test names."""

from __future__ import annotations

from django.contrib.auth.models import Permission

BUILDER_PERMISSIONS = [
    f"eventtree.{action}_{model}"
    for model in ("form", "eventtree", "record", "block", "run")
    for action in ("view", "add", "change", "delete")
] + ["eventtree.publish_eventtree"]


def staff_create(username: str, *perms: str, password: str = "pw", **fields):
    """A staff user holding `perms` ("eventtree.view_record", ...) and nothing else."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username, password=password, is_staff=True, **fields)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user
