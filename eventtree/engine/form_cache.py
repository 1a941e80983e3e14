"""A form with its fields, cached by slug and by id until the form or a field of it changes
(signal_handlers.py): a visitor's submit and a worker's block read neither table.

The cached Form holds its fields as a prefetched relation, so `form.fields.all()` on it makes
no query. Builder pages read the database: they must show what was just saved.
"""

from __future__ import annotations

from eventtree.engine.caching import cache_forget, cache_read_through
from eventtree.models import Form

# A form is forgotten when it changes; the timeout bounds how stale an entry can be when that
# forgetting failed (the cache server was down while the form was saved).
FORM_TIMEOUT = 300


def form_key(*, slug: str | None = None, form_id: int | None = None) -> str:
    return f"eventtree:form:v1:slug:{slug}" if slug is not None else f"eventtree:form:v1:id:{form_id}"


def form_changed_key(slug: str) -> str:
    """When the form with this slug last changed, kept by the polls (engine/poll_stamps.py) and
    forgotten with the form."""
    return f"eventtree:form-changed:v1:{slug}"


def form_cached(*, slug: str | None = None, form_id: int | None = None) -> Form:
    """The form with this slug (or id) and its fields; Form.DoesNotExist if there is none. Two queries when
    the cache does not hold it (the form, its fields), none when it does; a cache that is down is
    a miss."""
    lookup = {"slug": slug} if slug is not None else {"pk": form_id}

    def read() -> Form:
        # The webhook secret is a credential: it stays in the database, out of the shared cache.
        form = Form.objects.defer("webhook_secret").prefetch_related("fields").filter(**lookup).first()
        if form is None:
            raise Form.DoesNotExist(f"No form {slug or form_id}.")
        return form

    return cache_read_through(form_key(slug=slug, form_id=form_id), read, timeout=FORM_TIMEOUT,
                              what=f"form {slug or form_id}")


def form_forget(*, form_id: int, slugs: set[str]) -> None:
    cache_forget([form_key(form_id=form_id), *(form_key(slug=slug) for slug in slugs),
                  *(form_changed_key(slug) for slug in slugs)], what=f"form {form_id}")
