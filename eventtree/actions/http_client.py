"""The network side of `http_request` (DESIGN §4): addresses, secrets, redirects, the response.

What holds for every call:
- Only http and https. Every host is resolved here (`host_addresses`), and each of its addresses
  must be public unless `EVENTTREE["HTTP_ALLOW_PRIVATE"]` allows it; the connection then goes to
  the address that was checked (the URL's host replaced by it, the `Host` header and, for https,
  the TLS server name and certificate check kept on the name), so a name that resolves to another
  address between the check and the connection (DNS rebinding) changes nothing. Redirects are
  followed here, at most `MAX_REDIRECTS`, each hop checked the same way; a hop to another origin
  drops the headers that carry a secret, `Authorization` and `Cookie`.
- Secrets (`{{ secrets.NAME }}`) are never rendered into text that is kept: a rendered template
  is a list of segments, text and `{"secret": NAME}`, and the values are put in by `text_send`
  only as the request is built. Errors name the host, never the URL, a header or the body.
- Nothing of the response is kept but its status and the values `store` picks from its JSON
  (at most `MAX_RESPONSE_BYTES` are read, and none when nothing is stored).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from typing import Any

import httpx
from django.conf import settings

from eventtree.errors import ActionFailed

MAX_REDIRECTS = 5
MAX_RESPONSE_BYTES = 1024 * 1024
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
DEFAULT_PORTS = {"http": 80, "https": 443}
# Headers that never follow a redirect to another origin (besides those holding a secret).
CREDENTIAL_HEADERS = {"authorization", "cookie", "proxy-authorization"}

# A rendered template: plain text, or text and secrets by name, in order.
Segments = str | list[str | dict[str, str]]


class CallFailed(ActionFailed):
    """A call that failed; `response` is what is known of the answer (status, host), if any."""

    def __init__(self, detail: str, *, response: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.response = response


# Names and addresses ------------------------------------------------------------------------


def host_addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (the system's resolver); an address stays as it is."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def address_refusal(address: str) -> str | None:
    """Why `address` may not be called, or None. Private, loopback, link-local, unspecified,
    multicast and reserved addresses (an IPv4 address mapped into IPv6 as itself) are refused
    unless `HTTP_ALLOW_PRIVATE` is true or lists a network holding the address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    allowed = settings.EVENTTREE.get("HTTP_ALLOW_PRIVATE", False)
    if allowed is True or (allowed and any(ip in ipaddress.ip_network(net, strict=False) for net in allowed)):
        return None
    for what in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{what}"):
            return what.replace("_", "-")
    return None if ip.is_global else "not public"


def address_checked(host: str, port: int) -> str:
    """The address to connect to for `host`: every address it resolves to must be allowed."""
    try:
        addresses = host_addresses(host, port)
    except (OSError, UnicodeError):
        raise CallFailed(f"could not resolve {host}") from None
    if not addresses:
        raise CallFailed(f"could not resolve {host}")
    for address in addresses:
        why = address_refusal(address)
        if why:
            raise CallFailed(
                f"refused: {host} resolves to {address.split('%', 1)[0]}, a {why} address "
                "(EVENTTREE_HTTP_ALLOW_PRIVATE allows such addresses)"
            )
    return addresses[0].split("%", 1)[0]


# Secrets --------------------------------------------------------------------------------------


def text_send(segments: Segments, secrets: dict[str, str]) -> str:
    """The text to send: the segments with each secret's value."""
    if isinstance(segments, str):
        return segments
    parts = []
    for segment in segments:
        if isinstance(segment, str):
            parts.append(segment)
        elif segment["secret"] in secrets:
            parts.append(secrets[segment["secret"]])
        else:
            raise CallFailed(f"no secret named {segment['secret']!r} in EVENTTREE_HTTP_SECRETS")
    return "".join(parts)


def text_shown(segments: Segments) -> str:
    """The text with each secret named, not given: for traces, test runs and errors."""
    if isinstance(segments, str):
        return segments
    return "".join(part if isinstance(part, str) else "{{ secrets.%s }}" % part["secret"] for part in segments)


def has_secret(segments: Segments) -> bool:
    return not isinstance(segments, str) and any(isinstance(part, dict) for part in segments)


# The call ---------------------------------------------------------------------------------------


def request_send(request: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
    """Make the call `request` describes (an `http_request` payload: method, url, headers, body,
    timeout in seconds for the whole call, store) and return its outcome: `status`, `host`, and
    `stored` {field: value from the JSON answer}. Raises CallFailed for a refused address, a
    network error, a timeout, too many redirects, a status of 400 or more, or a `store` that the
    answer does not fill."""
    secrets = settings.EVENTTREE.get("HTTP_SECRETS", {})
    try:
        url = httpx.URL(text_send(request["url"], secrets))
    except (httpx.InvalidURL, TypeError):
        raise CallFailed("the URL is not valid") from None
    host = url.host or "?"
    timeout = float(request["timeout"])
    deadline = time.monotonic() + timeout
    try:
        with httpx.Client(trust_env=False, follow_redirects=False) as client:
            response, host = hops_follow(client, request, url, secrets, idempotency_key, deadline)
            try:
                if response.status_code >= 400:
                    raise CallFailed(f"HTTP {response.status_code} from {host}",
                                     response={"status": response.status_code, "host": host})
                stored = values_picked(response, request.get("store") or {}, host, deadline)
            finally:
                response.close()
    except httpx.TimeoutException:
        raise CallFailed(f"no answer from {host} within {timeout:g} s") from None
    except httpx.InvalidURL:
        raise CallFailed("the URL is not valid") from None
    except httpx.HTTPError as exc:
        raise CallFailed(f"could not reach {host}: {type(exc).__name__} {str(exc)[:200]}") from None
    return {"status": response.status_code, "host": host, "stored": stored}


def hops_follow(client: httpx.Client, request: dict[str, Any], url: httpx.URL, secrets: dict[str, str],
                idempotency_key: str, deadline: float) -> tuple[httpx.Response, str]:
    """Send the request, then follow its redirects (each hop's address checked); returns the
    last answer, open (streamed), and the host that gave it."""
    method = request["method"]
    body = text_send(request["body"], secrets) if request.get("body") else None
    headers = [(name, segments) for name, segments in (request.get("headers") or {}).items()]
    if body is not None and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json" if is_json(body) else "text/plain; charset=utf-8"))
    for hop in range(MAX_REDIRECTS + 1):
        response = hop_send(client, method, url, headers, body, secrets, idempotency_key, deadline)
        location = response.headers.get("location")
        if response.status_code not in REDIRECT_STATUSES or not location:
            return response, url.host
        response.close()
        if hop == MAX_REDIRECTS:
            raise CallFailed(f"more than {MAX_REDIRECTS} redirects, the last from {url.host}")
        try:
            target = url.join(location)
        except httpx.InvalidURL:
            raise CallFailed(f"{url.host} redirected to an invalid URL") from None
        if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
            method, body = "GET", None
            headers = [(name, segments) for name, segments in headers if name.lower() != "content-type"]
        if (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port):
            headers = [(name, segments) for name, segments in headers
                       if not has_secret(segments) and name.lower() not in CREDENTIAL_HEADERS]
        url = target
    raise AssertionError("unreachable")


def hop_send(client: httpx.Client, method: str, url: httpx.URL, headers: list[tuple[str, Segments]],
             body: str | None, secrets: dict[str, str], idempotency_key: str, deadline: float) -> httpx.Response:
    """One request to `url`, at the address its host was checked at."""
    if url.scheme not in DEFAULT_PORTS:
        raise CallFailed(f"only http and https can be called, not {url.scheme or 'a relative URL'!r}")
    if not url.host:
        raise CallFailed("the URL has no host")
    name = url.raw_host.decode("ascii")
    port = url.port or DEFAULT_PORTS[url.scheme]
    address = address_checked(name, port)
    sent_headers = {key: text_send(segments, secrets) for key, segments in headers}
    sent_headers.update({"Host": url.netloc.decode("ascii"), "Idempotency-Key": idempotency_key})
    sent_headers.setdefault("User-Agent", "eventtree")
    sent_headers.setdefault("Accept", "application/json")
    extensions = {"sni_hostname": name} if url.scheme == "https" else {}
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpx.TimeoutException("the call's time is up")
    outgoing = client.build_request(method, url.copy_with(host=address), headers=sent_headers, content=body,
                                    timeout=httpx.Timeout(remaining), extensions=extensions)
    return client.send(outgoing, stream=True)


def values_picked(response: httpx.Response, store: dict[str, str], host: str, deadline: float) -> dict[str, Any]:
    """The values of the answer's JSON at the `store` key paths, by field."""
    if not store:
        return {}
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise CallFailed(f"the answer from {host} is larger than {MAX_RESPONSE_BYTES // 1024} KB",
                             response={"status": response.status_code, "host": host})
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the call's time is up")
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks))
    except ValueError:
        raise CallFailed(f"the answer from {host} (HTTP {response.status_code}) is not JSON",
                         response={"status": response.status_code, "host": host}) from None
    return {field: value_at(data, path, host, response.status_code) for field, path in store.items()}


def value_at(data: Any, path: str, host: str, status: int) -> Any:
    """The value at a dotted key path (`data.items.0.id`: keys of objects, indexes of lists)."""
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            raise CallFailed(f"the answer from {host} (HTTP {status}) has no value at {path!r}",
                             response={"status": status, "host": host})
    return data


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
