"""The action that calls an outside service: http_request (DESIGN §4).

Before the redirect (no block) the call is made at once, inside the walk, within
`SYNC_MAX_TIMEOUT` seconds. In a block it is made once per block and node, whatever the attempt:
the walk asks the run context for its outcome (`RunContext.outbox_call`), and the block's runner
makes the call outside the block's transaction through the outbox (engine/outbox.py). A test run
only describes it. Either way the walk then stores the values `store` picked from the answer on
the record, or fails (the error port, else the submit refused or the block failed).

The network side (addresses, redirects, secrets, the answer) is in http_client.py.
"""

from __future__ import annotations

import json
import re
import secrets as secrets_module
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings

from eventtree.actions.base import BaseAction, TemplateField, TemplateMappingField
from eventtree.actions.http_client import Segments, request_send, text_shown
from eventtree.engine.templating import render_value
from eventtree.engine.values import coerce_value
from eventtree.errors import ActionFailed
from eventtree.models.forms import identifier_validator

if TYPE_CHECKING:
    from eventtree.engine.context import RunContext

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_TIMEOUT = 10
MAX_TIMEOUT = 30
SYNC_MAX_TIMEOUT = 10  # before the redirect a visitor waits on the call
# A header name (RFC 9110 token); headers the call sets itself cannot be given.
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "idempotency-key"}
SECRET_REFERENCE = re.compile(r"\bsecrets\b(\.([A-Za-z_][A-Za-z0-9_]*))?")
KEY_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")


def secret_names(text: str) -> set[str]:
    """The secrets a template names (`secrets_problem` says which uses are refused)."""
    return {match.group(2) for match in SECRET_REFERENCE.finditer(text) if match.group(2)}


def secrets_problem(texts: list[str]) -> str | None:
    """What is wrong with the secrets the templates name: a use other than `secrets.NAME`, or a
    name that `EVENTTREE_HTTP_SECRETS` does not hold."""
    known = settings.EVENTTREE.get("HTTP_SECRETS", {})
    for text in texts:
        for match in SECRET_REFERENCE.finditer(text):
            if not match.group(2):
                return "Name one secret at a time: {{ secrets.NAME }}."
            if match.group(2) not in known:
                return f"No secret named {match.group(2)!r} in EVENTTREE_HTTP_SECRETS."
    return None


class HttpRequestConfig(forms.Form):
    method = forms.ChoiceField(choices=[(method, method) for method in METHODS], initial="POST",
                               help_text="The HTTP method.")
    url = TemplateField(required=True, max_length=2000,
                        help_text="A template: the http or https address to call, e.g. "
                        "https://api.example.com/customers?email={{ record.email|urlencode }}. "
                        "Private, loopback and link-local addresses are refused.")
    headers = TemplateMappingField(
        required=False,
        help_text='A JSON object of header names and templates, e.g. {"Authorization": "Bearer '
        '{{ secrets.CRM_TOKEN }}"}. {{ secrets.NAME }} inserts a secret from the server\'s settings, '
        "never shown anywhere.",
    )
    body = TemplateField(required=False, widget=forms.Textarea,
                         help_text="A template: the request's body, or empty for none. Sent as JSON when it is "
                         "JSON, unless a Content-Type header says otherwise.")
    timeout = forms.IntegerField(required=False, min_value=1, max_value=MAX_TIMEOUT, initial=DEFAULT_TIMEOUT,
                                 help_text="Seconds to wait for the whole call, 1 to 30 (at most 10 before "
                                 "the redirect). Default 10.")
    store = forms.JSONField(
        required=False,
        help_text='A JSON object of this form\'s fields and key paths in the JSON answer, e.g. '
        '{"customer_id": "data.id"}: the values set on the record. Nothing else of the answer is kept.',
    )

    def clean_headers(self) -> dict[str, str]:
        headers = self.cleaned_data.get("headers") or {}
        for name, template in headers.items():
            if not HEADER_NAME.match(name):
                raise forms.ValidationError(f"{name!r} is not a header name.")
            if name.lower() in RESERVED_HEADERS:
                raise forms.ValidationError(f"The {name} header is set by the call itself.")
        return {name: "" if template is None else str(template) for name, template in headers.items()}

    def clean_timeout(self) -> int:
        return self.cleaned_data.get("timeout") or DEFAULT_TIMEOUT

    def clean_store(self) -> dict[str, str]:
        store = self.cleaned_data.get("store")
        if store in (None, ""):
            return {}
        if not isinstance(store, dict):
            raise forms.ValidationError('Expected an object of field: key path pairs, e.g. {"customer_id": "data.id"}.')
        for field, path in store.items():
            try:
                identifier_validator(field)
            except forms.ValidationError:
                raise forms.ValidationError(f"{field!r} is not a field name.") from None
            if not isinstance(path, str) or not KEY_PATH.match(path):
                raise forms.ValidationError(f"The key path of {field!r} must be keys separated by dots, e.g. data.id.")
        return store

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        texts = [data.get("url") or "", data.get("body") or "", *(data.get("headers") or {}).values()]
        problem = secrets_problem(texts)
        if problem:
            self.add_error(None, problem)
        return data


class HttpRequest(BaseAction):
    key = "http_request"
    label = "HTTP request"
    icon = "⇄"
    description = "Calls an outside service; can store values of its JSON answer on the record."
    config_form = HttpRequestConfig
    external = True
    field_mapping_keys = ("store",)

    def summary(self, config: dict[str, Any]) -> str:
        stored = f" → {', '.join(config['store'])}" if config.get("store") else ""
        return f"{config.get('method', 'POST')} {config.get('url', '')}{stored}"

    def run(self, context: RunContext, config: dict[str, Any]) -> str:
        node = context.node
        in_block = context.block is not None
        payload = {
            "method": config["method"],
            "url": secrets_marked(context, config["url"]),
            "headers": {name: secrets_marked(context, template) for name, template in config["headers"].items()},
            "body": secrets_marked(context, config["body"]) if config.get("body") else None,
            "timeout": config["timeout"] if in_block else min(config["timeout"], SYNC_MAX_TIMEOUT),
            "store": dict(config["store"]),
        }
        shown = f"{payload['method']} {text_shown(payload['url'])}"
        if context.dry_run:
            context.outbox_add(kind=self.key, node=node, payload={"method": payload["method"],
                                                                 "url": text_shown(payload["url"])})
            return f"would call {shown}"
        if in_block:
            outcome = context.outbox_call(kind=self.key, node=node, payload=payload, tag="http")
        else:
            outcome = self.call(payload, idempotency_key=f"r{context.run.pk}:sync:n{node.pk}:http")
        return outcome_apply(context, outcome)

    def call(self, payload: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        return request_send(payload, idempotency_key=idempotency_key)


def secrets_marked(context: RunContext, template: str) -> Segments:
    """Render `template` over the record, the run and the flags, with each `{{ secrets.NAME }}`
    left as a segment naming the secret: the value is put in only when the request is sent.

    Secrets render as marks holding a nonce made for this rendering, which a visitor's text
    cannot guess; a mark a filter changed (`{{ secrets.X|upper }}`) is refused, not sent."""
    names = secret_names(template)
    data = context.template_context(with_flags="flags" in template)
    if not names:
        return render_value(template, data)
    nonce = secrets_module.token_hex(16)
    rendered = render_value(template, {**data, "secrets": {name: f"\x00{nonce}:{name}\x00" for name in names}})
    parts = re.split(f"\x00{nonce}:([A-Za-z_][A-Za-z0-9_]*)\x00", rendered)
    segments: list[str | dict[str, str]] = []
    for index, part in enumerate(parts):
        if index % 2:
            segments.append({"secret": part})
        elif nonce in part.lower():
            raise ActionFailed("http_request: a secret can only be inserted as {{ secrets.NAME }}, with no filter")
        elif part:
            segments.append(part)
    return segments


def outcome_apply(context: RunContext, outcome: dict[str, Any]) -> str:
    """Set the values the call stored on the record; the step's output names them, not their values."""
    values = {name: coerce_value(context.form_field(name), value_text(value))
              for name, value in (outcome.get("stored") or {}).items()}
    if values:
        context.record_update(values)
    stored = f"; stored {', '.join(values)}" if values else ""
    return f"HTTP {outcome.get('status')} from {outcome.get('host')}{stored}"


def value_text(value: Any) -> str:
    """A value of the JSON answer as the text a field's type is read from."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
