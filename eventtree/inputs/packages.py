"""The builder's package import form: the file (or the package kept from a refused import), whether
to replace the form with its slug, and a new slug and name to import it as a copy."""

from __future__ import annotations

from typing import Any

from django import forms

from eventtree.models import Form

PACKAGE_MAX_BYTES = 5 * 1024 * 1024
# A kept package travels back in a form field, which Django counts against
# DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default) where a file does not count: a larger one is
# not kept. A browser sends each line break as CR LF, hence the count of line breaks twice.
KEPT_MAX_BYTES = 2 * 1024 * 1024


class PackageImportForm(forms.Form):
    """After `is_valid()`, `cleaned_data["text"]` is the package and `["filename"]` its file's name.

    A file chosen wins over the kept package. Show the form again through `refuse()` and
    `keep_package()`: a browser cannot refill a file input, so the package goes back in the
    hidden fields and a second submit without choosing the file imports it.
    """

    package = forms.FileField(
        label="Form package (JSON)", required=False,
        widget=forms.FileInput(attrs={"accept": "application/json,.json"}),
    )
    replace = forms.BooleanField(
        label="Replace the existing form", required=False,
        help_text="The form with the same slug gets the package's fields, and each of its trees a new "
        "version of the package's tree of the same name; its records and runs are kept, its other "
        "trees made inactive.",
    )
    slug = forms.SlugField(
        label="New slug", required=False, max_length=Form._meta.get_field("slug").max_length,
        help_text="Import as a copy under this slug, e.g. membership-copy. Empty: the package's.",
    )
    name = forms.CharField(
        label="New name", required=False, max_length=Form._meta.get_field("name").max_length,
        help_text="Empty: the package's.",
    )
    kept_package = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)
    kept_filename = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Its own ids: the page's form to create a form has a name and a slug too.
        super().__init__(*args, auto_id="import_%s", **kwargs)
        self.problems: list[str] = []
        self.not_kept = ""  # the name of a file sent but too large to go back in a field

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("package")
        if upload is not None:
            if upload.size > PACKAGE_MAX_BYTES:
                self.add_error("package", "The file is larger than 5 MB.")
            else:
                data["text"] = upload.read().decode("utf-8", "replace")
                data["filename"] = upload.name
        elif data.get("kept_package"):
            data["text"], data["filename"] = data["kept_package"], data.get("kept_filename") or "package.json"
        else:
            self.add_error("package", "Choose a JSON file to import.")
        return data

    def refuse(self, *, problems: list[str], slug_taken: str | None) -> None:
        """Show why the valid form's package was not imported, in the words of this page."""
        if slug_taken is not None:
            replace = self.fields["replace"].label
            self.add_error("slug", f"A form with slug “{slug_taken}” already exists: tick “{replace}” or enter a new slug.")
        else:
            self.problems = problems

    def keep_package(self) -> None:
        """Put the package that was sent, if any, in the hidden fields of the form shown again."""
        text, filename = self.cleaned_data.get("text"), self.cleaned_data.get("filename", "")
        if text is None:
            return
        keep = len(text.encode()) + text.count("\n") <= KEPT_MAX_BYTES and "\x00" not in text
        self.data = self.data.copy()
        self.data["kept_package"] = text if keep else ""
        self.data["kept_filename"] = filename if keep else ""
        self.not_kept = "" if keep else filename
