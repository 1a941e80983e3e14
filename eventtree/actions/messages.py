"""Actions that talk to people: send_email."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email

from eventtree.actions.base import BaseAction, TemplateField
from eventtree.errors import ActionFailed
from eventtree.engine.templating import render_html

if TYPE_CHECKING:
    from eventtree.engine.context import RunContext


class SendEmailConfig(forms.Form):
    to = TemplateField(required=True, help_text="Addresses, comma-separated; e.g. {{ record.email }}")
    subject = TemplateField(required=True)
    body = TemplateField(required=True, widget=forms.Textarea)
    html = forms.BooleanField(required=False, help_text="Also send the body as HTML (escaped values).")


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
        recipients = [address.strip() for address in context.render(config["to"]).split(",")]
        recipients = [address for address in recipients if address]
        if not recipients:
            raise ActionFailed("send_email: no recipient")
        for address in recipients:
            try:
                validate_email(address)
            except forms.ValidationError:
                raise ActionFailed(f"send_email: {address!r} is not an email address") from None
        payload = {
            "to": recipients,
            "subject": " ".join(context.render(config["subject"]).split()),
            "body": context.render(config["body"]),
            "html": render_html(config["body"], context.template_context())
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
