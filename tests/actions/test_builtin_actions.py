"""Each built-in action of DESIGN §4, run through a submit."""

from __future__ import annotations

import pytest
from django.core import mail

from eventtree.actions.registry import registry
from eventtree.models import Block, BlockState, Flag, Form, OutboxMessage, Record, Run, Step, StepStatus
from eventtree.services.records import SubmissionRefused, record_submit
from tests.factories import action, form_create, set_field, tree_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    def submit(form, **values):
        with django_capture_on_commit_callbacks(execute=True):
            record, _ = record_submit(form=form, values=values)
        record.refresh_from_db()
        return record

    return submit


TYPED_FIELDS = [{"name": "name"}, {"name": "count", "type": "number", "internal": True},
                {"name": "ok", "type": "checkbox", "internal": True},
                {"name": "day", "type": "date", "internal": True}]


def test_set_field_converts_to_the_field_type(submit):
    form = form_create("typed", fields=TYPED_FIELDS)
    tree_create(form, [set_field("count", "{{ record.name|length }}"), set_field("ok", "yes"),
                       set_field("day", "2026-12-24")])

    record = submit(form, name="four")

    assert record.values == {"name": "four", "count": 4, "ok": True, "day": "2026-12-24"}


@pytest.mark.parametrize("template", [
    "{% load static %}{% static 'x' %}",
    "{% include 'base.html' %}",  # passed validation on the old code and rendered nothing
    "{% debug %}",  # passed validation on the old code and printed the whole context
    "{% extends 'base.html' %}",
    "{% url 'eventtree:home' %}",
    "{% autoescape off %}{{ record.name }}{% endautoescape %}",
    "{{ record.name|safe }}",
])
def test_templates_cannot_load_include_debug_or_mark_text_safe(template):
    assert registry.get("set_field").config_errors({"field": "x", "value": template})
    assert registry.get("send_email").config_errors({"to": "a@example.com", "subject": "s", "body": template})


def test_templates_cannot_call_methods_of_the_data(submit):
    # Fails on the old code: {{ flags.clear }} emptied the run's flags, {{ record.tags.pop }} a list.
    form = form_create("tpl", fields=[{"name": "name"}, {"name": "out", "internal": True}])
    tree_create(form, [action("set_flag", name="seen"),
                       set_field("out", "{{ flags.clear }}{{ record.tags.clear }}{{ flags.seen }}{{ record.tags.0 }}")])

    record = submit(form, name="x", tags=["a"])

    assert record.values["out"] == "Truea"


def test_a_value_set_from_visitor_text_is_escaped_in_an_html_email(submit):
    # Fails on the old code: the value set in the walk was a SafeString, trusted as HTML by the
    # email rendered in the same walk.
    form = form_create("mail", fields=[{"name": "name"}, {"name": "email", "type": "email"},
                                       {"name": "greeting", "internal": True}])
    tree_create(form, [set_field("greeting", "Hello {{ record.name }}"),
                       action("send_email", to="{{ record.email }}", subject="Hi",
                              body="<p>{{ record.greeting }}</p>", html=True)])

    submit(form, name="<script>x</script>", email="ada@example.com")
    from eventtree.tasks import deliver_outbox

    deliver_outbox(OutboxMessage.objects.get().pk)

    html = mail.outbox[0].alternatives[0][0]
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


def test_create_record_fires_the_other_forms_submitted_trees(submit):
    onboarding = form_create("onboarding", fields=[{"name": "name", "required": True},
                                                   {"name": "welcomed", "internal": True}])
    tree_create(onboarding, [set_field("welcomed", "yes {{ record.name }}")])
    form = form_create("signup", fields=[{"name": "name"}])
    tree_create(form, [action("create_record", form="onboarding", values={"name": "{{ record.name }}"})])

    submit(form, name="Ada")

    created = Record.objects.get(form=onboarding)
    assert created.values == {"name": "Ada", "welcomed": "yes Ada"}
    signup_run, onboarding_run = Run.objects.order_by("id")
    assert onboarding_run.submission == signup_run.submission  # the visitor's page follows both


def test_create_record_chain_deeper_than_ten_fails(submit):
    form = form_create("loop", fields=[{"name": "name"}])
    tree_create(form, [action("create_record", form="loop", values={"name": "again"})])
    with pytest.raises(SubmissionRefused):
        submit(form, name="x")
    assert Record.objects.count() == 0


def test_create_record_into_a_missing_form_or_without_required_fields_fails(
    submit, django_capture_on_commit_callbacks
):
    form = form_create("signup", fields=[{"name": "name"}])
    form_create("target", fields=[{"name": "email", "required": True}])
    tree = tree_create(form, [action("create_record", form="missing", values={})])
    with pytest.raises(SubmissionRefused):
        submit(form, name="x")
    with django_capture_on_commit_callbacks(execute=True):  # the builder's change commits
        tree.delete()
    tree_create(form, [action("create_record", form="target", values={})])
    with pytest.raises(SubmissionRefused):
        submit(form, name="x")


def test_send_email_goes_out_after_commit_through_the_outbox(submit, drain_blocks):
    form = form_create("mail", fields=[{"name": "email", "type": "email"}])
    tree_create(form, [action("send_email", to="{{ record.email }}", subject="Hi\nthere",
                              body="<p>{{ record.email }}</p>", html=True)])

    submit(form, email="a&b@example.com")

    message = OutboxMessage.objects.get()
    assert message.state == "pending"  # handed to a worker, not sent inside the request
    from eventtree.tasks import deliver_outbox

    assert deliver_outbox(message.pk) is True
    assert deliver_outbox(message.pk) is False  # at most once
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["a&b@example.com"] and sent.subject == "Hi there"
    assert sent.alternatives[0][0] == "<p>a&amp;b@example.com</p>"


def test_send_email_to_an_invalid_address_fails(submit):
    form = form_create("mail", fields=[{"name": "email"}])
    tree_create(form, [action("send_email", to="{{ record.email }}", subject="s", body="b")])
    with pytest.raises(SubmissionRefused):
        submit(form, email="nobody")


def test_email_of_a_rolled_back_block_is_never_sent(submit, drain_blocks):
    form = form_create("mail", fields=[{"name": "email"}])
    tree_create(form, [{"kind": "background", "children": [
        action("send_email", to="{{ record.email }}", subject="s", body="b"),
        action("fail", message="after the email")]}], max_attempts=2)

    submit(form, email="a@example.com")
    drain_blocks()

    assert mail.outbox == [] and OutboxMessage.objects.count() == 0


def test_set_flag_sets_the_flag_and_the_record_field(submit):
    form = form_create("flags", fields=[{"name": "name"}, {"name": "done", "type": "checkbox", "internal": True}])
    tree_create(form, [action("set_flag", name="approved", field="done")])

    record = submit(form, name="x")

    assert record.values["done"] is True
    assert Flag.objects.get().name == "approved"


def test_progress_updates_one_item(submit):
    form = form_create("prog", fields=[{"name": "name"}])
    tree_create(form, [action("progress", name="p", title="Work", total="3", done="1"),
                       action("progress", name="p", title="Work", total="3", done="{{ 1|add:1 }}")])

    record = submit(form, name="x")

    item = record.runs.get().progress_items.get()
    assert (item.done, item.total, item.percent) == (2, 3, 67)


def test_progress_with_a_non_number_fails(submit):
    form = form_create("prog", fields=[{"name": "name"}])
    tree_create(form, [action("progress", name="p", done="{{ record.name }}")])
    with pytest.raises(SubmissionRefused):
        submit(form, name="lots")


def test_log_writes_to_the_trace(submit):
    form = form_create("log", fields=[{"name": "name"}])
    tree_create(form, [action("log", message="hello {{ record.name }}")])

    submit(form, name="Ada")

    step = Step.objects.get()
    assert step.output == "hello Ada" and step.status == StepStatus.OK


@pytest.mark.parametrize("node", [
    action("log"),  # a node just added in the editor, not configured yet: no message
    action("removed_plugin_action"),  # its action type is gone
    set_field("renamed", "x"),  # its field was renamed
    {"kind": "condition", "field": "", "op": "eq", "value": ""},
])
def test_a_tree_with_a_node_that_does_not_validate_does_not_run_and_the_submit_goes_on(submit, caplog, node):
    # Fails on the old code: every visitor's submit was refused until the node was configured.
    form = form_create("bad", fields=[{"name": "name"}, {"name": "out", "internal": True}])
    tree_create(form, [set_field("out", "not run"), node], name="Broken")
    tree_create(form, [set_field("out", "ran")], name="Fine")

    record = submit(form, name="x")

    assert record.values == {"name": "x", "out": "ran"}
    assert [run.tree.name for run in Run.objects.all()] == ["Fine"]
    assert "Tree 'Broken'" in caplog.text and "did not run" in caplog.text


def test_an_unknown_action_type_is_reported_by_checks():
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    form = form_create("gone", fields=[{"name": "name"}])
    tree_create(form, [action("removed_plugin_action")])
    with pytest.raises(SystemCheckError, match="unknown action type 'removed_plugin_action'"):
        call_command("check", databases=["default"])


def test_a_create_record_loop_through_background_blocks_stops_at_the_chain_limit(submit, drain_blocks):
    # Fails on the code before the chain depth travelled with the run: each block started at 0
    # and the two forms made records in each other for ever.
    for slug, other in (("ping", "pong"), ("pong", "ping")):
        form = form_create(slug, fields=[{"name": "name"}])
        tree_create(form, [{"kind": "background", "label": f"to {other}", "children": [
            action("create_record", form=other, values={"name": "{{ record.name }}"})]}])

    submit(Form.objects.get(slug="ping"), name="x")
    drain_blocks()

    assert Record.objects.count() == 11  # the visitor's, then a chain of 10 created records
    assert sorted(Run.objects.values_list("depth", flat=True)) == list(range(11))
    last = Block.objects.get(state=BlockState.FAILED)
    assert last.attempts == 1  # not retried: another attempt cannot succeed
    assert "chain of created records deeper than 10" in last.last_error
    step = Step.objects.get(block=last, status=StepStatus.FAILED)
    assert "deeper than 10" in step.error
    assert Block.objects.exclude(pk=last.pk).filter(state=BlockState.DONE).count() == 10


def test_an_email_to_a_record_value_goes_to_one_address_only(submit):
    # Fails on the old code: a text value "a@…, b@…" used as `to` mailed every address in it.
    form = form_create("mail", fields=[{"name": "contact"}])
    tree_create(form, [action("send_email", to="team@example.com, {{ record.contact }}", subject="s", body="b")])

    with pytest.raises(SubmissionRefused):
        submit(form, contact="ada@example.com, eve@example.com")
    assert OutboxMessage.objects.count() == 0

    submit(form, contact="ada@example.com")
    assert OutboxMessage.objects.get().payload["to"] == ["team@example.com", "ada@example.com"]


def test_recipients_split_only_at_the_commas_between_templates():
    send_email = registry.get("send_email")
    assert send_email.config_errors({"to": '{{ record.a|default:"x,y" }}, b@example.com', "subject": "s", "body": "b"}) == []
    assert send_email.config_errors({"to": "{% if record.a %}a@x.com,b@x.com{% endif %}", "subject": "s", "body": "b"})


def test_the_html_of_an_email_keeps_the_builders_formatting_but_nothing_that_runs(submit):
    # Fails on the old code, which sent the builder's markup as it was typed.
    form = form_create("mail", fields=[{"name": "email", "type": "email"}])
    tree_create(form, [action("send_email", to="{{ record.email }}", subject="Hi", html=True, body=(
        '<p onclick="steal()">Hello <b>{{ record.email }}</b></p><script>steal()</script>'
        '<a href="javascript:steal()">here</a>'))])
    from eventtree.tasks import deliver_outbox

    submit(form, email="ada@example.com")
    deliver_outbox(OutboxMessage.objects.get().pk)

    html = mail.outbox[0].alternatives[0][0]
    assert "<b>ada@example.com</b>" in html and "<p>" in html
    assert "steal" not in html


@pytest.mark.parametrize(("done", "error"), [
    ("inf", "progress: done: 'inf' is not a finite number"),
    ("1e999", "progress: done: '1e999' is not a finite number"),
    ("99999999999", "progress: done '99999999999' is larger than 2147483647"),
])
def test_a_progress_number_that_cannot_be_stored_fails_with_what_is_wrong(
    done, error, django_capture_on_commit_callbacks, drain_blocks
):
    form = form_create("progressing", fields=[{"name": "name"}])
    tree_create(form, [{"kind": "background", "children": [
        action("progress", name="p", title="P", total="100", done=done)]}], max_attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        record_submit(form=form, values={"name": "a"})

    assert drain_blocks() == [(Block.objects.get().pk, BlockState.FAILED)]
    assert Step.objects.get(status=StepStatus.FAILED).error == error
