"""The builder's CSV import (DESIGN §3.7, §5 "records in bulk"): the upload on a form's records page,
the import's page that follows its chunks (htmx every 2 s, 286 when finished, a meta refresh
without JavaScript), and who may do what."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from eventtree.engine.imports import import_chunk_run
from eventtree.models import Import, ImportChunk, Record
from tests.factories import form_create
from tests.views.staff import staff_create

pytestmark = pytest.mark.django_db

FIELDS = [{"name": "name", "required": True}, {"name": "email", "type": "email"}]


@pytest.fixture
def people():
    return form_create("people", fields=FIELDS, name="People")


def upload(client, text: str, slug: str = "people", name: str = "people.csv"):
    return client.post(reverse("builder:imports", args=[slug]),
                       {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")})


def chunks_run(capture) -> None:
    for chunk_id in ImportChunk.objects.order_by("number").values_list("pk", flat=True):
        with capture(execute=True):
            import_chunk_run(chunk_id)


def test_the_records_page_offers_the_upload_to_who_may_add_records(client, people):
    client.force_login(staff_create("viewer", "eventtree.view_record"))
    page = client.get(reverse("builder:records", args=["people"])).content.decode()
    assert 'name="file"' not in page and reverse("builder:imports", args=["people"]) in page

    client.force_login(staff_create("importer", "eventtree.view_record", "eventtree.add_record"))
    page = client.get(reverse("builder:records", args=["people"])).content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="file"' in page


def test_an_upload_goes_to_its_import_page_which_follows_the_chunks_until_they_finish(
        staff, people, django_capture_on_commit_callbacks, settings):
    settings.EVENTTREE = {**settings.EVENTTREE, "IMPORT_CHUNK_ROWS": 2}
    text = "name,email\nAda,ada@example.com\nBob,bob@\nCy,cy@example.com\n"

    response = upload(staff, text)

    bulk_import = Import.objects.get()
    url = reverse("builder:import", args=[bulk_import.pk])
    assert response.status_code == 302 and response["Location"] == url
    page = staff.get(url).content.decode()
    assert "Import of people.csv" in page and "0 / 2" in page
    assert '<meta http-equiv="refresh" content="3">' in page and 'hx-trigger="every 2s"' in page
    poll = staff.get(url, headers={"HX-Request": "true"})
    assert poll.status_code == 200 and "<html" not in poll.content.decode()

    chunks_run(django_capture_on_commit_callbacks)

    poll = staff.get(url, headers={"HX-Request": "true"})
    assert poll.status_code == 286  # htmx stops polling
    body = poll.content.decode()
    assert 'data-state="done"' in body and "every 2s" not in body
    assert "2 records created" in body and "Line 3" in body and "email: Enter a valid email address." in body
    assert "refresh" not in staff.get(url).content.decode()
    assert sorted(Record.objects.values_list("values__name", flat=True)) == ["Ada", "Cy"]


def test_a_file_whose_header_does_not_fit_is_refused_with_the_column_named(staff, people):
    response = upload(staff, "name,nickname\nAda,ada\n")

    assert response.status_code == 400
    assert "Unknown column “nickname”" in response.content.decode()
    assert not Import.objects.exists()


def test_what_a_file_holds_is_shown_as_text(staff, people, django_capture_on_commit_callbacks):
    response = upload(staff, "name,<b>bold</b>\nAda,x\n")
    assert "&lt;b&gt;bold&lt;/b&gt;" in response.content.decode() and "<b>bold</b>" not in response.content.decode()

    form_create("choices", fields=[{"name": "name"}, {"name": "plan", "type": "choice", "choices": ["Free"]}])
    upload(staff, "name,plan\nAda,<img src=x onerror=alert(1)>\n", slug="choices", name="<img src=y onerror=alert(2)>.csv")
    chunks_run(django_capture_on_commit_callbacks)
    page = staff.get(reverse("builder:import", args=[Import.objects.get().pk])).content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=y" not in page and "&lt;img src=y onerror=alert(2)&gt;.csv" in page


def test_a_file_over_the_size_limit_is_refused(staff, people, settings):
    settings.EVENTTREE_IMPORT_MAX_BYTES = 20

    response = upload(staff, "name\n" + "Ada\n" * 10)

    assert response.status_code == 400 and "The file is larger than 20" in response.content.decode()
    assert not Import.objects.exists()


def test_who_may_not_add_records_cannot_import_and_who_may_not_see_them_cannot_follow_an_import(client, people):
    client.force_login(staff_create("viewer", "eventtree.view_record"))
    assert upload(client, "name\nAda\n").status_code == 403
    assert not Import.objects.exists()

    client.force_login(staff_create("importer", "eventtree.view_record", "eventtree.add_record"))
    url = upload(client, "name\nAda\n")["Location"]
    assert client.get(url).status_code == 200
    assert client.get(reverse("builder:imports", args=["people"])).status_code == 200

    client.force_login(staff_create("builder", "eventtree.view_form", "eventtree.change_form"))
    assert client.get(url).status_code == 403
    assert client.get(reverse("builder:imports", args=["people"])).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302  # to the admin's login


def test_an_import_page_poll_costs_the_same_queries_whatever_the_import(staff, people, django_assert_max_num_queries,
                                                                        django_capture_on_commit_callbacks, settings):
    settings.EVENTTREE = {**settings.EVENTTREE, "IMPORT_CHUNK_ROWS": 10}
    rows = "".join(f"P{i},{'bad' if i % 3 == 0 else f'p{i}@example.com'}\n" for i in range(300))
    url = upload(staff, "name,email\n" + rows)["Location"]
    chunks_run(django_capture_on_commit_callbacks)

    # The session, the user and their permissions, then the import, its refused rows and failed chunks.
    with django_assert_max_num_queries(7):
        poll = staff.get(url, headers={"HX-Request": "true"})

    body = poll.content.decode()
    assert "200 records created" in body and "100 rows refused" in body
    assert body.count("<li><strong>Line") == 100 and "Line 302" not in body
