"""The http_request action (DESIGN §4) against a real HTTP server on loopback (tests/partner.py):
before the redirect, in a block (exactly once, whatever the attempts), in a test run, and its
config in the editor and the package."""

from __future__ import annotations

import json
import shutil
import subprocess

import certifi
import pytest
from django.core.management import call_command
from django.test import Client

from eventtree.actions import http_client
from eventtree.actions.registry import registry
from eventtree.kinds import node_field_names, node_field_renamed
from eventtree.models import Block, BlockState, Node, OutboxMessage, OutboxState, Record, Run, Step
from eventtree.services.records import SubmissionRefused, record_submit
from eventtree.services.runs import block_retry
from tests.factories import action, form_create, set_field, tree_create
from tests.partner import ANSWER, CRM_FIELDS as FIELDS, FAILURE_BODY, PartnerServer, partner  # noqa: F401

pytestmark = pytest.mark.django_db

SECRET = "tok-s3cr3t-value"


@pytest.fixture
def http_settings(settings):
    """Loopback allowed (the partner runs on 127.0.0.1), as EVENTTREE_HTTP_ALLOW_PRIVATE=1 does."""
    settings.EVENTTREE = {**settings.EVENTTREE, "HTTP_ALLOW_PRIVATE": True, "HTTP_SECRETS": {"CRM_TOKEN": SECRET}}
    return settings


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    def submit(form, **values):
        with django_capture_on_commit_callbacks(execute=True):
            record, submission = record_submit(form=form, values=values)
        record.refresh_from_db()
        return record, submission

    return submit


def http(url: str, children: list | None = None, **config) -> dict:
    config = {"method": "POST", "url": url, "headers": {"Authorization": "Bearer {{ secrets.CRM_TOKEN }}"},
              "body": '{"name": "{{ record.name }}"}', "timeout": 5, "store": {"customer_id": "data.id"}, **config}
    return action("http_request", children, **config)


def everything_stored() -> str:
    """Every text the database holds about runs: steps, outbox rows, blocks."""
    return json.dumps([
        list(Step.objects.values_list("output", "error")),
        [(m.key, m.payload, m.error) for m in OutboxMessage.objects.all()],
        list(Block.objects.values_list("last_error", flat=True)),
    ], default=str)


# Before the redirect ---------------------------------------------------------------------------


def test_a_call_before_the_redirect_stores_a_value_and_sends_the_secret_only_on_the_wire(
        partner, http_settings, submit):
    form = form_create("crm", fields=FIELDS)
    tree = tree_create(form, [http(partner.url("/ok"))])

    record, _ = submit(form, name="Ada")

    assert record.values["customer_id"] == 42
    [call] = partner.calls()
    node = Node.objects.get(tree=tree)
    assert call.method == "POST" and call.path == "/ok"
    assert call.headers["Authorization"] == f"Bearer {SECRET}"
    assert call.headers["Idempotency-Key"] == f"r{Run.objects.get().pk}:sync:n{node.pk}:http"
    assert call.headers["Content-Type"] == "application/json" and json.loads(call.body) == {"name": "Ada"}
    step = Step.objects.get()
    assert step.output == "HTTP 200 from 127.0.0.1; stored customer_id"
    assert SECRET not in everything_stored() and "RESPONSE-ONLY-TEXT" not in everything_stored()


def test_a_500_runs_the_error_port_and_keeps_the_body_out_of_the_trace(partner, http_settings, submit):
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url("/fail"), [set_field("status", "CRM down")]), set_field("name", "went on")])

    record, _ = submit(form, name="Ada")

    assert record.values["status"] == "CRM down" and record.values["name"] == "went on"
    assert "customer_id" not in record.values or record.values["customer_id"] is None
    failed = Step.objects.get(status="failed")
    assert failed.error == "HTTP 500 from 127.0.0.1" and failed.output == "handled by its error port"
    assert FAILURE_BODY not in everything_stored()


def test_a_500_without_an_error_port_refuses_the_submit_neutrally(partner, http_settings, submit):
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url("/fail"))])

    with pytest.raises(SubmissionRefused) as refused:
        submit(form, name="Ada")

    assert "could not be processed" in refused.value.message and "500" not in refused.value.message
    assert not Record.objects.exists()


def test_a_call_past_its_timeout_fails(partner, http_settings, submit):
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url("/slow?seconds=3"), [set_field("status", "{{ record.name }} timed out")],
                            timeout=1)])

    record, _ = submit(form, name="Ada")

    assert record.values["status"] == "Ada timed out"
    assert Step.objects.get(status="failed").error == "no answer from 127.0.0.1 within 1 s"


def test_an_answer_that_is_not_json_fails_a_store(partner, http_settings, submit):
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url("/text"), [set_field("status", "bad answer")])])

    record, _ = submit(form, name="Ada")

    assert record.values["status"] == "bad answer"
    assert Step.objects.get(status="failed").error == "the answer from 127.0.0.1 (HTTP 200) is not JSON"


def test_a_loopback_address_is_refused_unless_the_setting_allows_it(partner, settings, submit):
    settings.EVENTTREE = {**settings.EVENTTREE, "HTTP_ALLOW_PRIVATE": False, "HTTP_SECRETS": {"CRM_TOKEN": SECRET}}
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url("/ok"), [set_field("status", "refused")])])

    record, _ = submit(form, name="Ada")

    assert record.values["status"] == "refused"
    assert partner.calls() == []
    assert "127.0.0.1 resolves to 127.0.0.1, a loopback address" in Step.objects.get(status="failed").error


@pytest.fixture
def resolver(monkeypatch, partner):
    """The outside world's DNS, as a test double: two names of a partner, one public-looking
    name on this machine's loopback and one that points into a private network."""
    names = {"api.partner.example": ["127.0.0.1"], "intranet.partner.example": ["10.0.0.7"]}
    real = http_client.host_addresses
    monkeypatch.setattr(http_client, "host_addresses",
                        lambda host, port: names[host] if host in names else real(host, port))
    return names


def test_a_redirect_to_a_private_address_is_refused_before_connecting(partner, settings, resolver, submit):
    settings.EVENTTREE = {**settings.EVENTTREE, "HTTP_ALLOW_PRIVATE": ["127.0.0.0/8"],
                          "HTTP_SECRETS": {"CRM_TOKEN": SECRET}}
    form = form_create("crm", fields=FIELDS)
    target = partner.url("/ok", host="intranet.partner.example")
    tree_create(form, [http(partner.url(f"/redirect?to={target}", host="api.partner.example"),
                            [set_field("status", "refused")])])

    record, _ = submit(form, name="Ada")

    assert record.values["status"] == "refused"
    assert [call.path for call in partner.calls()] == [f"/redirect?to={target}"]
    assert Step.objects.get(status="failed").error == (
        "refused: intranet.partner.example resolves to 10.0.0.7, a private address "
        "(EVENTTREE_HTTP_ALLOW_PRIVATE allows such addresses)")


def test_a_redirect_is_followed_and_drops_the_secret_header_at_another_host(partner, settings, resolver, submit):
    settings.EVENTTREE = {**settings.EVENTTREE, "HTTP_ALLOW_PRIVATE": ["127.0.0.0/8"],
                          "HTTP_SECRETS": {"CRM_TOKEN": SECRET}}
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url(f"/redirect?to={partner.url('/ok')}", host="api.partner.example"),
                            headers={"Authorization": "Bearer {{ secrets.CRM_TOKEN }}", "X-Name": "{{ record.name }}"})])

    record, _ = submit(form, name="Ada")

    assert record.values["customer_id"] == 42
    first, second = partner.calls()
    assert first.headers["Host"] == f"api.partner.example:{partner.port}"
    assert first.headers["Authorization"] == f"Bearer {SECRET}"
    assert "Authorization" not in second.headers and second.headers["X-Name"] == "Ada"
    assert second.method == "GET" and second.path == "/ok"  # a 302 after a POST is a GET
    assert Step.objects.get().output == "HTTP 200 from 127.0.0.1; stored customer_id"


@pytest.fixture
def tls_partner(tmp_path, monkeypatch):
    """The partner over https, with a certificate for api.partner.example that the machine's
    trust store (certifi's, a test double of the world's certificate authorities) trusts."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key,
                    "-out", cert, "-subj", "/CN=api.partner.example",
                    "-addext", "subjectAltName=DNS:api.partner.example"], check=True, capture_output=True)
    monkeypatch.setattr(certifi, "where", lambda: str(cert))
    server = PartnerServer().start(tls=(str(cert), str(key)))
    yield server
    server.stop()


def test_https_goes_to_the_checked_address_and_verifies_the_name(tls_partner, settings, submit, monkeypatch):
    settings.EVENTTREE = {**settings.EVENTTREE, "HTTP_ALLOW_PRIVATE": ["127.0.0.0/8"], "HTTP_SECRETS": {}}
    monkeypatch.setattr(http_client, "host_addresses", lambda host, port: ["127.0.0.1"])
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(tls_partner.url("/ok", host="api.partner.example"), headers={}),
                       http(tls_partner.url("/ok", host="other.partner.example"), [set_field("status", "refused")],
                            headers={}, store={})])

    record, _ = submit(form, name="Ada")

    assert record.values["customer_id"] == 42 and record.values["status"] == "refused"
    assert "CERTIFICATE_VERIFY_FAILED" in Step.objects.get(status="failed").error
    assert [call.headers["Host"] for call in tls_partner.calls()] == [f"api.partner.example:{tls_partner.port}"]


@pytest.mark.parametrize(("address", "why"), [
    ("10.1.2.3", "private"), ("192.168.0.1", "private"), ("127.0.0.1", "loopback"), ("::1", "loopback"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"), ("::ffff:127.0.0.1", "loopback"),
    ("100.64.0.1", "not public"), ("93.184.215.14", None), ("2606:4700::1111", None),
])
def test_which_addresses_are_refused(settings, address, why):
    settings.EVENTTREE = {**settings.EVENTTREE, "HTTP_ALLOW_PRIVATE": False}
    assert http_client.address_refusal(address) == why


def test_a_filtered_secret_is_refused_and_nothing_is_sent(partner, http_settings, submit):
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url("/ok"), [set_field("status", "refused")],
                            headers={"Authorization": "{{ secrets.CRM_TOKEN|upper }}"})])

    record, _ = submit(form, name="Ada")

    assert record.values["status"] == "refused" and partner.calls() == []
    assert "{{ secrets.NAME }}, with no filter" in Step.objects.get(status="failed").error


# In a block ---------------------------------------------------------------------------------------


def background(*children, **kwargs) -> dict:
    return {"kind": "background", "label": "Tell the CRM", "children": list(children), **kwargs}


def test_a_block_retried_after_its_call_sends_it_once_and_keeps_no_secret(partner, http_settings, submit, drain_blocks):
    form = form_create("crm", fields=FIELDS)
    tree = tree_create(form, [background(http(partner.url("/ok")), action("fail", message="after the call"))],
                       max_attempts=2)

    submit(form, name="Ada")
    drain_blocks()

    block = Block.objects.get()
    assert (block.state, block.attempts) == (BlockState.FAILED, 2)
    node = Node.objects.get(tree=tree, action="http_request")
    key = f"r{block.run_id}:b{block.pk}:n{node.pk}:http"
    assert partner.counts() == {key: 1}
    message = OutboxMessage.objects.get()
    assert (message.key, message.state) == (key, OutboxState.SENT)
    assert message.payload["response"] == {"status": 200, "host": "127.0.0.1", "stored": {"customer_id": 42}}
    assert message.payload["headers"] == {"Authorization": ["Bearer ", {"secret": "CRM_TOKEN"}]}
    assert Record.objects.get().values.get("customer_id") is None  # the block's rollback
    outputs = list(Step.objects.filter(label__icontains="http").values_list("attempt", "output"))
    assert outputs == [(1, "HTTP 200 from 127.0.0.1; stored customer_id"),
                       (2, "HTTP 200 from 127.0.0.1; stored customer_id")]
    assert SECRET not in everything_stored() and "RESPONSE-ONLY-TEXT" not in everything_stored()


def test_a_block_stores_the_answer_and_the_visitor_sees_none_of_it(partner, http_settings, submit, drain_blocks):
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url("/ok"), store={}), background(http(partner.url("/ok")))])

    _, submission = submit(form, name="Ada")
    drain_blocks()

    assert Record.objects.get().values["customer_id"] == 42
    assert Block.objects.get().state == BlockState.DONE
    url = f"/f/crm/submitted/{submission.token}/"
    status = Client().get(url + "status.json")
    page = Client().get(url)
    assert status.json()["status"] == "done"
    for text in (status.content.decode(), page.content.decode()):
        for hidden in ("RESPONSE-ONLY-TEXT", SECRET, "from 127.0.0.1", "HTTP 200", "vip", "stored"):
            assert hidden not in text


def test_a_failed_call_in_a_block_fails_it_at_once_and_a_staff_retry_calls_again(
        partner, http_settings, submit, drain_blocks):
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [background(http(partner.url("/fail")))], max_attempts=3)

    submit(form, name="Ada")
    drain_blocks()

    block = Block.objects.get()
    # A recorded failure cannot change at a later attempt: the block fails without retrying.
    assert (block.state, block.attempts, block.last_error) == (BlockState.FAILED, 1, "HTTP 500 from 127.0.0.1")
    [key] = partner.counts()

    block_retry(block_id=block.pk)
    drain_blocks()

    assert partner.counts() == {key: 1, f"{key}:retry1": 1}
    assert sorted(OutboxMessage.objects.values_list("state", flat=True)) == ["failed", "failed"]


def test_a_failed_call_in_a_block_runs_its_error_port(partner, http_settings, submit, drain_blocks):
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [background(http(partner.url("/fail"), [set_field("status", "CRM down")]))])

    submit(form, name="Ada")
    drain_blocks()

    assert Block.objects.get().state == BlockState.DONE
    assert Record.objects.get().values["status"] == "CRM down"
    assert len(partner.calls()) == 1


def test_a_call_found_sending_is_sent_again_with_its_key_and_one_found_sent_is_not(
        partner, http_settings, submit, drain_blocks):
    form = form_create("crm", fields=FIELDS)
    tree = tree_create(form, [background(http(partner.url("/ok"))), background(http(partner.url("/ok")))])
    submit(form, name="Ada")
    first, second = Block.objects.order_by("id")
    node_one, node_two = Node.objects.filter(tree=tree, action="http_request").order_by("id")
    request = {"method": "GET", "url": partner.url("/ok"), "headers": {}, "body": None, "timeout": 5,
               "store": {"customer_id": "data.id"}}
    key_one = f"r{first.run_id}:b{first.pk}:n{node_one.pk}:http"
    key_two = f"r{second.run_id}:b{second.pk}:n{node_two.pk}:http"
    # A worker died in the middle of the first call; the second was answered before a rollback.
    OutboxMessage.objects.create(run_id=first.run_id, key=key_one, kind="http_request", payload=request,
                                 state=OutboxState.SENDING)
    OutboxMessage.objects.create(run_id=second.run_id, key=key_two, kind="http_request", state=OutboxState.SENT,
                                 payload={**request, "response": {"status": 201, "host": "x", "stored": {"customer_id": 7}}})

    drain_blocks()

    assert partner.counts() == {key_one: 1}
    assert partner.calls()[0].method == "GET"  # the request as it was written
    assert OutboxMessage.objects.get(key=key_one).state == OutboxState.SENT
    assert sorted(Step.objects.filter(label__icontains="http").values_list("output", flat=True)) == [
        "HTTP 200 from 127.0.0.1; stored customer_id", "HTTP 201 from x; stored customer_id"]
    assert Record.objects.get().values["customer_id"] in (7, 42)


# A test run ---------------------------------------------------------------------------------------


def test_a_test_run_describes_the_call_without_making_it_or_showing_the_secret(partner, http_settings, capsys):
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url("/ok?token={{ secrets.CRM_TOKEN }}")), background(http(partner.url("/ok")))])

    call_command("test_tree", "crm", "--values", '{"name": "Ada"}')
    trace = json.loads(capsys.readouterr().out)

    assert trace["outcome"] == "done" and partner.calls() == []
    calls = [step for step in trace["steps"] if step.get("action") == "http_request"]
    assert calls[0]["output"] == "would send (http_request)" and calls[0]["effect"] == {"kind": "http_request", "method": "POST",
                                  "url": partner.url("/ok?token={{ secrets.CRM_TOKEN }}")}
    assert len(calls) == 2 and SECRET not in json.dumps(trace) and not OutboxMessage.objects.exists()


# The config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "problem"), [
    ({"headers": {"X-Token": "{{ secrets.NOPE }}"}}, "No secret named 'NOPE' in EVENTTREE_HTTP_SECRETS."),
    ({"body": "{{ secrets }}"}, "Name one secret at a time: {{ secrets.NAME }}."),
    ({"headers": {"Bad Name": "x"}}, "headers: 'Bad Name' is not a header name."),
    ({"headers": {"Host": "x"}}, "headers: The Host header is set by the call itself."),
    ({"timeout": 31}, "timeout: Ensure this value is less than or equal to 30."),
    ({"method": "TRACE"}, "method: Select a valid choice. TRACE is not one of the available choices."),
    ({"store": {"customer_id": "data..id"}}, "store: The key path of 'customer_id' must be keys separated by dots, e.g. data.id."),
    ({"store": {"nope": "data.id"}}, "store: the form has no field named 'nope'"),
    ({"url": "{% if %}"}, None),
])
def test_the_config_is_checked(http_settings, config, problem):
    spec = {**http("https://api.example.com/x")["config"], **config}
    problems = registry.get("http_request").config_errors(spec, field_names={"name", "customer_id"})
    if problem is None:
        assert problems and problems[0].startswith("url: Template error")
    else:
        assert problems == [problem]


def test_a_valid_config_defaults_its_timeout():
    spec = {"method": "GET", "url": "https://api.example.com/{{ record.name|urlencode }}"}
    assert registry.get("http_request").config_errors(spec, field_names={"name"}) == []
    assert registry.get("http_request").clean_config(spec)["timeout"] == 10


def test_the_fields_a_store_names_are_used_and_renamed():
    node = Node(kind="action", action="http_request",
                config={"method": "GET", "url": "https://x.example/{{ record.name }}",
                        "store": {"customer_id": "record.status"}})

    assert node_field_names(node) == {"customer_id", "name"}  # a key path reads no field
    renamed = node_field_renamed(node, "customer_id", "crm_id")
    assert renamed["store"] == {"crm_id": "record.status"}
    assert node_field_renamed(node, "status", "state")["store"] == {"customer_id": "record.status"}


def test_the_answer_keys_are_reachable_by_path():
    assert http_client.value_at(ANSWER, "data.name", "h", 200) == "Ada"
    assert http_client.value_at({"items": [{"id": 5}]}, "items.0.id", "h", 200) == 5
    with pytest.raises(http_client.CallFailed, match="has no value at 'items.1.id'"):
        http_client.value_at({"items": [{"id": 5}]}, "items.1.id", "h", 200)


def test_the_editor_shows_a_config_that_saves_back_unchanged(http_settings):
    # Failed on the code before: the headers and store objects showed as JSON strings, refused on save.
    from eventtree.inputs.builder import node_config_clean, node_config_form
    from eventtree.models import Field, Form

    form = Form(slug="crm", name="CRM")
    fields = [Field(form=form, name=spec["name"], type=spec.get("type", "text")) for spec in FIELDS]
    config = registry.get("http_request").clean_config(http("https://api.example.com/x")["config"])
    node = Node(kind="action", action="http_request", config=config)
    shown = node_config_form(node, fields)
    data = {shown.add_prefix(name): shown[name].value() for name in shown.fields}

    assert node_config_clean(node, node_config_form(node, fields, data), fields) == config
    assert SECRET not in str(shown)


def queries_of(callable_) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        callable_()
    return len(queries)


def test_a_call_costs_no_query_before_the_redirect_and_a_few_in_a_block(partner, http_settings, submit, drain_blocks):
    logged = form_create("logged", fields=FIELDS)
    tree_create(logged, [action("log", message="x"), background(action("log", message="x"))])
    called = form_create("called", fields=FIELDS)
    tree_create(called, [http(partner.url("/ok"), store={}), background(http(partner.url("/ok"), store={}))])
    submit(logged, name="warm the caches")
    submit(called, name="warm the caches")
    drain_blocks()

    submits, blocks = [], []
    for form in (logged, called):
        submits.append(queries_of(lambda form=form: submit(form, name="Ada")))
        blocks.append(queries_of(drain_blocks))

    assert submits[1] == submits[0]
    # The walk's first pass (the record locked, the outcome looked up), the lease renewed, the
    # outbox row written (with its savepoint) and settled, and the outcome read by the second pass.
    assert blocks[1] <= blocks[0] + 13, blocks


def test_no_log_holds_a_secret_or_the_answer(partner, http_settings, submit, caplog):
    import logging

    caplog.set_level(logging.INFO)
    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url("/ok?token={{ secrets.CRM_TOKEN }}")),
                       http(partner.url("/fail?token={{ secrets.CRM_TOKEN }}"))])

    with pytest.raises(SubmissionRefused):
        submit(form, name="Ada")

    assert len(partner.calls()) == 2 and "HTTP 500 from 127.0.0.1" in caplog.text
    assert SECRET not in caplog.text and "RESPONSE-ONLY-TEXT" not in caplog.text and FAILURE_BODY not in caplog.text


def test_a_live_tree_naming_a_secret_the_server_lacks_does_not_run(partner, http_settings, submit):
    from eventtree.checks import check_stored_trees

    form = form_create("crm", fields=FIELDS)
    tree_create(form, [http(partner.url("/ok"))])
    http_settings.EVENTTREE = {**http_settings.EVENTTREE, "HTTP_SECRETS": {}}

    record, submission = submit(form, name="Ada")

    assert submission is None and not Run.objects.exists() and partner.calls() == []
    assert "No secret named 'CRM_TOKEN'" in " ".join(str(error.msg) for error in check_stored_trees(databases=["default"]))
