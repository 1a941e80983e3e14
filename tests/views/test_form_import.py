"""The builder's import page (eventtree/views/builder/forms.py form_import): import as a copy under
a new slug and name, and a refused import keeps the chosen file for the next submit (issue 9)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from eventtree.models import Form, Node, Record
from tests.factories import REFERENCE_FIELDS, form_create, reference_tree_nodes, tree_create

pytestmark = pytest.mark.django_db

KEPT = "is kept: correct the fields below and import again, or choose another file"


class ImportFormData(HTMLParser):
    """What a browser would post from the page's import form without choosing a file again."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("action") == "/builder/import/"
        elif tag == "input" and self.inside and attrs.get("type") not in ("file", "checkbox"):
            if attrs.get("name") != "csrfmiddlewaretoken":
                self.data[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def shown_import_form(page: str) -> dict[str, str]:
    parser = ImportFormData()
    parser.feed(page)
    return parser.data


def text_of(page: str) -> str:
    """The page as a person reads it: without tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))


def package_file(content: bytes, name: str = "membership.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/json")



@pytest.fixture
def exported(staff: Client) -> bytes:
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership")
    tree_create(form, reference_tree_nodes(), name="Welcome")
    Record.objects.create(form=form, values={"name": "Ada", "email": "ada@example.com"})
    return staff.get("/builder/forms/membership/export/").content


def test_a_package_imports_as_a_copy_next_to_its_original(staff, exported):
    response = staff.post("/builder/import/", {
        "package": package_file(exported), "slug": "membership-copy", "name": "Membership (copy)",
    })

    assert response["Location"] == "/builder/forms/membership-copy/"
    original, copy = Form.objects.get(slug="membership"), Form.objects.get(slug="membership-copy")
    assert (original.name, copy.name) == ("Membership", "Membership (copy)")
    for form in (original, copy):
        assert [field.name for field in form.fields.all()] == [spec["name"] for spec in REFERENCE_FIELDS]
        assert [tree.name for tree in form.trees.all()] == ["Welcome"]
    assert not set(copy.fields.values_list("pk", flat=True)) & set(original.fields.values_list("pk", flat=True))
    assert (original.records.count(), copy.records.count()) == (1, 0)
    copied = json.loads(staff.get("/builder/forms/membership-copy/export/").content)
    assert copied["trees"] == json.loads(exported)["trees"]
    forms = staff.get("/builder/").content.decode()
    assert "Membership (copy)" in forms and "/f/membership-copy/" in forms and "/f/membership/" in forms


def test_a_refused_import_keeps_the_file_until_a_new_slug_imports_it(staff, exported):
    refused = staff.post("/builder/import/", {"package": package_file(exported)})

    page = refused.content.decode()
    assert refused.status_code == 400
    assert f"The file membership.json {KEPT}" in text_of(page)
    assert "A form with slug “membership” already exists: tick “Replace the existing form” or enter a new slug." in page
    assert "--replace" not in page

    data = shown_import_form(page)
    data["slug"] = "a copy"  # not a slug: refused by the page, the file still kept
    page = staff.post("/builder/import/", data).content.decode()
    assert f"The file membership.json {KEPT}" in text_of(page)
    assert Form.objects.count() == 1

    data = shown_import_form(page)
    assert data["slug"] == "a copy"
    data.update(slug="membership-copy", name="Membership (copy)")
    response = staff.post("/builder/import/", data)

    assert response["Location"] == "/builder/forms/membership-copy/"
    assert Form.objects.get(slug="membership-copy").trees.get().name == "Welcome"


def test_a_package_with_problems_is_kept_and_a_new_file_wins_over_it(staff, exported):
    package = json.loads(exported)
    node = package["trees"][0]["nodes"][0]
    action, node["action"] = node["action"], "sned_email"
    refused = staff.post("/builder/import/", {"package": package_file(json.dumps(package).encode(), "bad.json"),
                                              "slug": "fixed"})
    page = refused.content.decode()
    assert "unknown action type &#x27;sned_email&#x27;" in page and f"The file bad.json {KEPT}" in text_of(page)

    node["action"] = action
    response = staff.post("/builder/import/", {
        **shown_import_form(page), "package": package_file(json.dumps(package).encode(), "good.json"),
    })

    assert response["Location"] == "/builder/forms/fixed/"
    assert Form.objects.get(slug="fixed").trees.get().nodes.filter(action=action).exists()
    assert not Node.objects.filter(action="sned_email").exists()


def test_broken_json_is_kept_too_and_nothing_is_kept_before_a_file_is_chosen(staff):
    page = staff.post("/builder/import/", {"package": package_file(b'{"form": ', "broken.json")}).content.decode()
    assert "not valid JSON" in page and f"The file broken.json {KEPT}" in text_of(page)

    empty = staff.post("/builder/import/", {"slug": "copy"})
    assert empty.status_code == 400
    assert "Choose a JSON file to import." in empty.content.decode() and KEPT not in empty.content.decode()


def test_a_large_kept_package_and_a_new_file_fit_in_one_request(staff, exported):
    big = exported.decode().replace("{", "{" + " " * 2_000, 1)
    big = big + " " * (2 * 1024 * 1024 - 4_096 - len(big.encode()))
    refused = staff.post("/builder/import/", {"package": package_file(big.encode())})
    assert f"The file membership.json {KEPT}" in text_of(refused.content.decode())
    data = shown_import_form(refused.content.decode())
    filler = b" " * (5 * 1024 * 1024 - 100 - len(exported)) + exported.replace(b'"membership"', b'"other"', 1)

    response = staff.post("/builder/import/", {**data, "package": package_file(filler, "other.json")})

    assert response["Location"] == "/builder/forms/other/"


def test_a_package_too_large_to_carry_back_says_to_choose_it_again(staff, exported):
    large = exported + b" " * (3 * 1024 * 1024)
    page = staff.post("/builder/import/", {"package": package_file(large)}).content.decode()

    assert "The file membership.json cannot be kept" in text_of(page) and "choose it again" in page
    assert shown_import_form(page).get("kept_package", "") == ""
