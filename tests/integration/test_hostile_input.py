"""Input that used to break the live product, tried over HTTP against a running app with a real
worker (`live_server` + `manage.py qcluster`), as a visitor or a builder would."""

from __future__ import annotations

import pytest

from eventtree.models import Block, BlockState, Node, Record, Run
from tests.factories import action, form_create, tree_create
from tests.http import HttpSession
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_create_record_loop_through_background_blocks_stops_at_the_chain_limit(live_server, qcluster):
    for slug, other in (("ping", "pong"), ("pong", "ping")):
        form = form_create(slug, fields=[{"name": "name", "required": True}])
        tree_create(form, [{"kind": "background", "label": f"Create in {other}", "children": [
            action("create_record", form=other, values={"name": "{{ record.name }}"})]}])
    visitor = HttpSession(live_server.url)

    reply = visitor.post("/f/ping/", {"name": "Ada"})

    assert reply.status == 302
    failed = wait_until(lambda: Block.objects.filter(state=BlockState.FAILED).first(), timeout=120,
                        describe=lambda: f"{Record.objects.count()} records\n{qcluster.output()[-3000:]}")
    assert failed.attempts == 1 and "deeper than 10" in failed.last_error
    wait_until(lambda: not Block.objects.exclude(state__in=BlockState.finished()).exists(), timeout=30)
    assert Record.objects.count() == 11
    assert max(Run.objects.values_list("depth", flat=True)) == 10
    status = visitor.get(reply.headers["Location"] + "status.json").json()
    assert status["blocks"][0]["state"] == "done"  # the visitor's own block did its work


def test_a_date_past_the_end_of_the_calendar_is_taken_and_its_delay_never_fires(live_server, qcluster):
    form = form_create("booking", fields=[{"name": "name", "required": True},
                                          {"name": "appointment", "type": "date", "required": True}])
    tree_create(form, [{"kind": "delay", "label": "Reminder", "field": "appointment", "offset_seconds": 86400,
                        "children": [action("log", message="reminded")]}])
    visitor = HttpSession(live_server.url)

    reply = visitor.post("/f/booking/", {"name": "Ada", "appointment": "9999-12-31"})

    assert reply.status == 302  # was a 500 (OverflowError)
    page = visitor.get(reply.headers["Location"])
    assert page.status == 200 and "Reminder" in page.text
    block = Block.objects.get()
    assert block.state == BlockState.CANCELLED and "past the end of the calendar" in block.last_error
    assert Run.objects.get().status == "done"


def test_a_builder_cannot_save_a_delay_of_a_trillion_seconds_and_the_form_keeps_working(
    live_server, qcluster, django_user_model
):
    django_user_model.objects.create_superuser("builder", password="builder-pw")
    form = form_create("signup", fields=[{"name": "name", "required": True}])
    tree = tree_create(form, [{"kind": "delay", "seconds": 60, "children": [action("log", message="later")]}])
    delay = Node.objects.get(tree=tree, kind="delay")
    builder = HttpSession(live_server.url)
    builder.login("builder", "builder-pw")

    reply = builder.post(f"/builder/nodes/{delay.pk}/", {
        "label": "", "config-field": "", "config-amount": str(10**12), "config-unit": "1",
        "config-direction": "after"})

    assert reply.status == 200 and "at most" in reply.text  # refused where it is typed
    delay.refresh_from_db()
    assert delay.config == {"seconds": 60}
    assert HttpSession(live_server.url).post("/f/signup/", {"name": "Ada"}).status == 302


@pytest.mark.parametrize("path, data, message", [
    ("fields/add/", {"field-name": "score", "field-type": "number", "field-default": "NaN"}, "finite"),
    ("fields/add/", {"field-name": "score", "field-type": "number", "field-default": "1e309"}, "finite"),
    ("fields/add/", {"field-name": "csrfmiddlewaretoken", "field-type": "text"}, "reserved"),
    ("", {"settings-name": "Signup", "settings-slug": "signup",
          "settings-success_message": "{% if record.name %}Thanks", "settings-completion_flags": ""}, "emplate"),
])
def test_builder_input_that_broke_every_submit_is_refused_where_it_is_typed(
    live_server, django_user_model, path, data, message
):
    django_user_model.objects.create_superuser("builder", password="builder-pw")
    form = form_create("signup", fields=[{"name": "name", "required": True}], name="Signup")
    tree_create(form, [{"kind": "background", "children": [action("log", message="later")]}])
    builder = HttpSession(live_server.url)
    builder.login("builder", "builder-pw")

    reply = builder.post(f"/builder/forms/signup/{path}", data, csrf_from="/builder/forms/signup/", htmx=True)

    assert reply.status in (200, 400) and message in reply.text
    form.refresh_from_db()
    assert [field.name for field in form.fields.all()] == ["name"]
    assert form.success_message == "Thank you, your submission has been received."
    visitor = HttpSession(live_server.url)
    submitted = visitor.post("/f/signup/", {"name": "Ada"})
    assert submitted.status == 302
    assert visitor.get(submitted.headers["Location"]).status == 200
