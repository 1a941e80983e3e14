"""Errors that actions, kinds and the engine share. A leaf: it imports nothing of the project."""

from __future__ import annotations


class ActionFailed(Exception):
    """An action could not do its work.

    `public_message` is shown to a submitter waiting on the synchronous phase; only the `fail`
    action sets it. Everything else is shown neutrally, the detail going to logs and run history.
    `permanent` says that another attempt cannot succeed (a record chain past its limit): a block
    failing with it is not retried.
    """

    def __init__(self, detail: str, *, public_message: str | None = None, permanent: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.public_message = public_message
        self.permanent = permanent
