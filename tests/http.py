"""A small HTTP client for tests against a running app (`live_server`): real requests over a
socket, with cookies and Django's CSRF token, redirects not followed."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> dict:
        return json.loads(self.text)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class HttpSession:
    """One visitor (or staff member) with a cookie jar, talking to `base_url`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect)

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None) -> Reply:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers or {})
        request.add_header("Referer", self.base_url + path)
        try:
            with self.opener.open(request, timeout=30) as response:
                return Reply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read().decode(errors="replace"))

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, data: dict, *, csrf_from: str | None = None, htmx: bool = False) -> Reply:
        """POST a form as a browser would: first GET `csrf_from` (default: `path`) for the token;
        with `htmx`, as the builder's htmx requests do."""
        self.get(csrf_from or path)
        token = next((cookie.value for cookie in self.cookies if cookie.name == "csrftoken"), "")
        headers = {"HX-Request": "true"} if htmx else {}
        return self.request("POST", path, {**data, "csrfmiddlewaretoken": token}, headers)

    def login(self, username: str, password: str) -> None:
        reply = self.post("/admin/login/?next=/builder/", {"username": username, "password": password})
        assert reply.status == 302, reply.text[:500]
