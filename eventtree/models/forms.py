from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

identifier_validator = RegexValidator(
    r"^[a-z_][a-z0-9_]*$", "Use lower-case letters, digits and underscores, starting with a letter."
)


class Form(models.Model):
    """A user-defined form; its submissions are Records and fire its event trees."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    success_message = models.TextField(
        "post-submission message",
        blank=True,
        default="Thank you, your submission has been received.",
        help_text="Shown after a submit. May quote values, e.g. {{ record.name }}.",
    )
    login_required = models.BooleanField(
        default=False, help_text="Only signed-in users may submit this form."
    )
    completion_flags = models.JSONField(
        default=list,
        blank=True,
        help_text="Names of the flags that mean 'complete'. Empty: every background block finished.",
    )
    listed = models.BooleanField(
        default=True, help_text="Shown on the public home page. An unlisted form still works at its address."
    )
    # Who hears of a run that failed (engine/alerts.py): these addresses and the group's users.
    alert_emails = models.JSONField(
        "alert addresses",
        default=list,
        blank=True,
        help_text="Addresses that get an email when a run of this form fails.",
    )
    alert_group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Its users get an email when a run of this form fails.",
    )
    # The bearer secret of POST /hooks/<slug>/ (DESIGN §3.13); empty: webhooks are off. Kept
    # readable because the builder shows it; a credential, so never exported, cached or logged.
    webhook_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    TEXTAREA = "textarea", "Long text"
    NUMBER = "number", "Number"
    EMAIL = "email", "Email"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    CHECKBOX = "checkbox", "Checkbox"
    CHOICE = "choice", "Choice"


class Field(models.Model):
    """One field of a form. An internal field is not shown to submitters; actions set it."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="fields")
    name = models.CharField(max_length=64, validators=[identifier_validator])
    label = models.CharField(max_length=200, blank=True)
    type = models.CharField(max_length=16, choices=FieldType.choices, default=FieldType.TEXT)
    required = models.BooleanField(default=False)
    internal = models.BooleanField(default=False)
    choices = models.JSONField(default=list, blank=True)
    default = models.JSONField(null=True, blank=True)
    help_text = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["form", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["form", "name"], name="field_name_unique_per_form")
        ]

    def __str__(self) -> str:
        return f"{self.form.slug}.{self.name}"

    @property
    def display_label(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


class Record(models.Model):
    """One stored submission of a form."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="records")
    values = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # The chunk of a CSV import that created it (DESIGN §3.7), written in that chunk's transaction.
    import_chunk = models.ForeignKey(
        "eventtree.ImportChunk", null=True, blank=True, editable=False, on_delete=models.SET_NULL,
        related_name="records",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["form", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.form.slug} #{self.pk}"
