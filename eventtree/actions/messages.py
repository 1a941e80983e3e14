"""Actions that talk to people: send_email."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.template import TemplateSyntaxError

from eventtree.actions.base import BaseAction, TemplateField
from eventtree.errors import ActionFailed
from eventtree.engine.templating import compile_template, render_html

if TYPE_CHECKING:
    from eventtree.engine.context import RunContext


# A comma outside {{ … }} and {% … %}: where the builder separated two recipients.
RECIPIENT_SEPARATOR = re.compile(r",(?![^{]*[}%]})")


def recipient_templates(text: str) -> list[str]:
    """The recipient templates of a `to`: split at the commas typed between them."""
    return [part for part in RECIPIENT_SEPARATOR.split(text) if part.strip()]


class SendEmailConfig(forms.Form):
    to = TemplateField(required=True, help_text="Addresses, comma-separated; e.g. {{ record.email }}. Each part must give one address.")
    subject = TemplateField(required=True, help_text="A template; one line.")
    body = TemplateField(required=True, widget=forms.Textarea, help_text="A template: the email's text.")
    html = forms.BooleanField(required=False, help_text="Also send the body as HTML (escaped values).")

    def clean_to(self) -> str:
        text = self.cleaned_data["to"]
        for part in recipient_templates(text):
            try:
                compile_template(part)
            except TemplateSyntaxError:
                raise forms.ValidationError(
                    "Each recipient, between commas, must be a template of its own "
                    "(keep commas out of {% if %} blocks)."
                ) from None
        return text


class SendEmail(BaseAction):
    key = "send_email"
    label = "Send email"
    icon = "✉"
    description = "Sends an email through Django's email backend once the transaction commits."
    config_form = SendEmailConfig
    external = True

    def summary(self, config: dict[str, Any]) -> str:
        return f"email {config.get('to')}: {config.get('subject')}"

    def run(self, context: RunContext, config: dict[str, Any]) -> str:
        # The commas the builder typed separate recipients; each part renders to one address,
        # so a record value holding "a@x.com, b@y.com" is refused, not mailed to both.
        recipients = [context.render(part).strip() for part in recipient_templates(config["to"])]
        recipients = [address for address in recipients if address]
        if not recipients:
            raise ActionFailed("send_email: no recipient")
        for address in recipients:
            try:
                validate_email(address)
            except forms.ValidationError:
                raise ActionFailed(f"send_email: {address!r} is not one email address") from None
        payload = {
            "to": recipients,
            "subject": " ".join(context.render(config["subject"]).split()),
            "body": context.render(config["body"]),
            "html": render_html(config["body"], context.template_context(with_flags="flags" in config["body"]))
            if config.get("html")
            else None,
        }
        context.outbox_add(kind=self.key, node=context.node, payload=payload)
        return f"email to {', '.join(recipients)} queued"

    def deliver(self, payload: dict[str, Any]) -> None:
        message = EmailMultiAlternatives(
            subject=payload["subject"],
            body=payload["body"],
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=payload["to"],
        )
        if payload.get("html"):
            message.attach_alternative(payload["html"], "text/html")
        message.send()
