"""Webhooks in: POST /hooks/<slug>/ (DESIGN §3.13)."""

from __future__ import annotations

import json
import pickle
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from eventtree.engine.form_cache import form_key
from eventtree.models import Record, Run, Submission, WebhookDelivery
from eventtree.signals import record_event
from tests.factories import REFERENCE_FIELDS, action, form_create, reference_tree_nodes, set_field, tree_create

pytestmark = pytest.mark.django_db

SECRET = "s3cret-of-the-membership-form-0123456789abcdef"
ADA = {"name": "Ada", "email": "ada@example.com"}


@pytest.fixture
def membership():
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application",
                       webhook_secret=SECRET)
    tree_create(form, reference_tree_nodes())
    return form


def hook(client: Client, slug: str = "membership", body: object = ADA, *, secret: str | None = SECRET,
         key: str | None = None, content_type: str = "application/json", **extra):
    if secret is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(f"/hooks/{slug}/", data, content_type=content_type, **extra)


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """A webhook request whose transaction's on-commit work (handing blocks to django-q2) runs."""

    def send(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return hook(client, *args, **kwargs)

    return send


def test_a_webhook_submit_stores_the_record_runs_its_trees_and_answers_202_with_the_status(
        client, membership, deliver, drain_blocks):
    response = deliver()

    assert response.status_code == 202
    answer = response.json()
    record = Record.objects.get()
    submission = Submission.objects.get()
    assert answer == {
        "id": record.pk,
        "status_url": f"http://testserver/f/membership/submitted/{submission.token}/status.json",
    }
    # The values as the public form stores them, and the synchronous part of the tree ran.
    assert record.form == membership and record.user is None
    assert record.values["name"] == "Ada" and record.values["email"] == "ada@example.com"
    assert record.values["field_a"] == "A:Ada" and record.values["field_d"] == "D"
    assert "field_b" not in record.values
    # Another system gets no session: no cookie at all.
    assert response.cookies == {}

    assert client.get(answer["status_url"]).json()["status"] == "running"
    drain_blocks()
    status = client.get(answer["status_url"]).json()
    assert status["status"] == "done" and status["finished"] is True
    record.refresh_from_db()
    assert record.values["field_b"] == "B" and record.values["field_c"] == "C"
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


def test_a_form_without_a_tree_stores_the_record_and_has_no_status_to_follow(client):
    form_create("contact", fields=[{"name": "topic", "type": "choice", "choices": ["Sales", "Support"]},
                                   {"name": "count", "type": "number"}, {"name": "ok", "type": "checkbox"},
                                   {"name": "on", "type": "date"}],
                webhook_secret=SECRET)
    response = hook(client, "contact", {"topic": "Sales", "count": 2.5, "ok": True, "on": "2026-03-01"})

    assert response.status_code == 202
    record = Record.objects.get()
    assert response.json() == {"id": record.pk, "status_url": None}
    assert record.values == {"topic": "Sales", "count": 2.5, "ok": True, "on": "2026-03-01"}
    assert Run.objects.count() == 0


def test_the_same_idempotency_key_twice_creates_one_record_and_answers_the_same(membership, deliver):
    first = deliver(key="order-1")
    again = deliver(key="order-1", body={"name": "Someone else", "email": "else@example.com"})

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert Record.objects.count() == 1 and Run.objects.count() == 1
    assert Record.objects.get().values["name"] == "Ada"
    # A retry is answered as the first was even if its body would be refused now (the record
    # was made): here a field became required since.
    membership.fields.filter(name="field_a").update(internal=False, required=True)
    cache.clear()  # as a saved field's commit does
    assert deliver(key="order-1").json() == first.json()
    assert deliver(key="order-new").status_code == 400
    membership.fields.filter(name="field_a").update(internal=True, required=False)
    cache.clear()

    assert deliver(key="order-2").json()["id"] != first.json()["id"]
    assert deliver().json()["id"] not in {first.json()["id"]}  # no key: always a new record
    assert Record.objects.count() == 3


def test_an_idempotency_key_is_per_form_and_forgotten_after_a_day(membership, deliver):
    form_create("other", webhook_secret=SECRET)
    first = deliver(key="k")
    other = deliver("other", {"name": "Bob"}, key="k")
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]

    WebhookDelivery.objects.filter(form=membership).update(created_at=timezone.now() - timedelta(hours=25))
    later = deliver(key="k")
    assert later.status_code == 202 and later.json()["id"] not in {first.json()["id"], other.json()["id"]}
    # The day-old key was pruned and the new answer kept in its place.
    assert WebhookDelivery.objects.filter(form=membership).count() == 1
    assert deliver(key="k").json() == later.json()


def test_an_idempotency_key_over_200_characters_is_refused(membership, deliver):
    response = deliver(key="k" * 201)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]["__all__"][0]
    assert deliver(key="k" * 200).status_code == 202


def test_a_submit_refused_by_a_fail_action_answers_422_with_its_message_and_saves_nothing(client):
    form = form_create("closed", webhook_secret=SECRET)
    tree_create(form, [action("fail", message="Closed for {{ record.name }}.")])

    response = hook(client, "closed", {"name": "Ada"}, key="once")
    assert response.status_code == 422
    assert response.json() == {"errors": {"__all__": ["Closed for Ada."]}}
    assert Record.objects.count() == 0 and Run.objects.count() == 0
    assert hook(client, "closed", {"name": "Ada"}, key="once").json() == response.json()


def test_an_unexpected_failure_answers_422_with_the_neutral_message_only(client):
    form = form_create("broken", fields=[{"name": "name"}, {"name": "count", "type": "number", "internal": True}],
                       webhook_secret=SECRET)
    tree_create(form, [set_field("count", "not a number {{ record.name }}")])

    response = hook(client, "broken", {"name": "Ada"})
    assert response.status_code == 422
    (message,) = response.json()["errors"]["__all__"]
    assert "could not be processed" in message and "not a number" not in response.content.decode()
    assert Record.objects.count() == 0


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer wrong", f"Basic {SECRET}", f"Bearer {SECRET}x", f"Bearer {SECRET[:-1]}",
])
def test_a_wrong_or_missing_secret_answers_401_and_creates_nothing(client, membership, authorization):
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = hook(client, secret=None, **extra)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert SECRET not in response.content.decode()
    assert Record.objects.count() == 0


def test_a_form_without_a_secret_refuses_every_request(client, membership):
    membership.webhook_secret = ""
    membership.save()
    assert hook(client).status_code == 401
    assert hook(client, secret="").status_code == 401
    assert Record.objects.count() == 0


def test_an_unknown_form_answers_404_in_json(client):
    response = hook(client, "nope")
    assert response.status_code == 404
    assert response.json() == {"error": "No such form."}


def test_bad_fields_answer_400_with_each_fields_errors_and_create_nothing(client, membership):
    response = hook(client, body={"name": "", "email": "not-an-email", "field_a": "set by me",
                                  "bogus": 1, "nested": {"a": 1}})

    assert response.status_code == 400
    assert response.json() == {"errors": {
        "field_a": ["This form has no such field."],  # internal: set only by actions
        "bogus": ["This form has no such field."],
        "nested": ["This form has no such field."],
    }}
    response = hook(client, body={"name": "", "email": "not-an-email"})
    assert response.json() == {"errors": {"name": ["This field is required."],
                                          "email": ["Enter a valid email address."]}}
    response = hook(client, body={"name": ["Ada"], "email": "ada@example.com"})
    assert response.json() == {"errors": {"name": ["Enter a single value: text, a number, true, false or null."]}}
    assert Record.objects.count() == 0


def test_values_are_checked_like_the_public_forms(client):
    form_create("typed", fields=[{"name": "count", "type": "number"}, {"name": "on", "type": "date"},
                                 {"name": "topic", "type": "choice", "choices": ["Sales"]}],
                webhook_secret=SECRET)
    response = hook(client, "typed", {"count": "many", "on": "yesterday", "topic": "<b>Other</b>"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["count"] == ["Enter a number."] and errors["on"] == ["Enter a valid date."]
    assert errors["topic"] == ["Select a valid choice. <b>Other</b> is not one of the available choices."]
    assert response["Content-Type"] == "application/json"
    assert hook(client, "typed", {"count": float("nan")}).status_code == 400


@pytest.mark.parametrize("body", [b"{not json", b'["Ada"]', b'"Ada"', b"\xff\xfe", b'{"count": NaN}'])
def test_a_body_that_is_not_a_json_object_answers_400(client, membership, body):
    response = hook(client, body=body)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["__all__"]
    assert Record.objects.count() == 0


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
def test_a_body_that_is_not_json_answers_415(client, membership, content_type):
    response = client.post("/hooks/membership/", "name=Ada&email=ada%40example.com", content_type=content_type,
                           HTTP_AUTHORIZATION=f"Bearer {SECRET}")
    assert response.status_code == 415
    assert Record.objects.count() == 0


@override_settings(EVENTTREE_WEBHOOK_MAX_BODY_BYTES=200)
def test_a_body_over_the_limit_answers_413_and_one_at_the_limit_is_taken(client, membership):
    padded = json.dumps({**ADA, "name": "A" * 300})
    response = hook(client, body=padded)
    assert response.status_code == 413
    assert response.json() == {"error": "The body is over 200 bytes."}
    assert Record.objects.count() == 0

    at_limit = json.dumps(ADA)
    at_limit = at_limit[:-1] + " " * (200 - len(at_limit)) + "}"
    assert len(at_limit) == 200
    assert hook(client, body=at_limit).status_code == 202


def test_the_default_limit_is_64_kib_and_answered_in_json(client, membership):
    response = hook(client, body=json.dumps({**ADA, "name": "A" * 65536}))
    assert response.status_code == 413 and response.json() == {"error": "The body is over 65536 bytes."}


def test_only_post_is_taken(client, membership):
    assert client.get("/hooks/membership/").status_code == 405


def test_a_warm_webhook_submit_makes_a_bounded_number_of_queries(client, membership, deliver):
    deliver()  # the form and its trees are cached now
    with CaptureQueriesContext(connection) as plain:
        assert deliver().status_code == 202
    with CaptureQueriesContext(connection) as keyed:
        assert deliver(key="k").status_code == 202
    with CaptureQueriesContext(connection) as repeated:
        assert deliver(key="k").status_code == 202
    # The public form's submit of the same tree, for comparison: the webhook adds the secret's read.
    with CaptureQueriesContext(connection) as public:
        client.post("/f/membership/", ADA)
    assert len(plain) <= len(public) + 1
    # The key adds its look-up, the day's pruning, its insert and its answer (and a savepoint).
    assert len(keyed) <= len(plain) + 6
    assert len(repeated) == 2  # the secret, the stored answer


def test_the_shared_cache_never_holds_the_secret(client, membership, deliver):
    client.post("/f/membership/", ADA)  # the public form reads the form through the cache too
    assert deliver().status_code == 202
    cached = cache.get(form_key(slug="membership"))
    assert cached is not None and "webhook_secret" in cached.get_deferred_fields()
    assert SECRET.encode() not in pickle.dumps(cached)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_make_one_record_and_one_answer(membership):
    """The first request holds its transaction open (a receiver of record_event, as another app
    may have) while the second arrives: the second waits, then answers with the first's answer."""
    first_inside, answers, queries = threading.Event(), {}, {}

    def hold_first(sender, record, **kwargs):
        if threading.current_thread().name == "first":
            first_inside.set()
            threading.Event().wait(0.5)  # the second request starts meanwhile

    def send(name):
        try:
            with CaptureQueriesContext(connection) as captured:
                answers[name] = hook(Client(), key="same")
            queries[name] = [query["sql"] for query in captured.captured_queries]  # this thread's connection
        finally:
            connection.close()

    record_event.connect(hold_first)
    try:
        first = threading.Thread(target=send, args=("first",), name="first")
        first.start()
        assert first_inside.wait(10)
        second = threading.Thread(target=send, args=("second",), name="second")
        second.start()
        second.join(30)
        first.join(30)
    finally:
        record_event.disconnect(hold_first)

    assert answers["first"].status_code == answers["second"].status_code == 202
    assert answers["second"].json() == answers["first"].json()
    assert Record.objects.count() == 1 and Submission.objects.count() == 1
    # The second did not find the key before it waited: the unique constraint refused its insert.
    assert any(sql.startswith('INSERT INTO "eventtree_webhookdelivery"') for sql in queries["second"])
