"""Who may do what in the builder: Django's model permissions, as the admin uses them.

A builder page needs a staff login (anyone else goes to the admin's login page) and then the
model permission of what it shows or changes; a staff member without it gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def permission_check(user: AbstractBaseUser | AnonymousUser, perm: str | tuple[str, ...]) -> None:
    """Raise PermissionDenied (403) unless `user` holds `perm` ("eventtree.change_form"), or one
    of several."""
    if not any(user.has_perm(name) for name in ((perm,) if isinstance(perm, str) else perm)):
        raise PermissionDenied


def builder_permission_required(
    perm: str | tuple[str, ...], *, on_post: str | None = None
) -> Callable[[View], View]:
    """A staff view that needs `perm` (or one of a tuple); `on_post` replaces it for POST (a page
    that shows and saves).

    Put it outermost, so that the permission is checked before the method or the object.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            permission_check(request.user, on_post if on_post and request.method == "POST" else perm)
            return view(request, *args, **kwargs)

        return staff_member_required(checked)

    return decorator
