"""Scheduled trees (DESIGN §3.8): each cron tick runs the live version once for each record its
filter matches; the django-q2 schedule follows the tree; the editor shows the next five times;
the package carries the cron and the filter."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django_q.conf import Conf
from django_q.models import Schedule

from eventtree.engine import scheduled
from eventtree.engine.dispatch import SCHEDULED_TICK, tree_schedule_name, tree_schedule_sync
from eventtree.engine.scheduled import scheduled_tick_run
from eventtree.models import Block, BlockState, Event, EventTree, Record, Run, RunStatus
from eventtree.services import trees as tree_services
from eventtree.services.forms import FieldInUse, field_delete, field_update, form_delete
from eventtree.services.packages import PackageInvalid, form_package_export, form_package_import
from eventtree.services.versions import tree_publish
from eventtree.tasks import scheduled_tick
from tests.factories import form_create, set_field, tree_create
from tests.views.staff import BUILDER_PERMISSIONS, staff_create

UTC = ZoneInfo("UTC")
FIELDS = [{"name": "name"}, {"name": "status", "type": "choice", "choices": ["Open", "Won", "Lost"]},
          {"name": "seen", "internal": True}, {"name": "done", "internal": True}]
WON = {"field": "status", "op": "eq", "value": "Won"}


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute, second, tzinfo=UTC)


def nightly(*, cron: str = "* * * * *", record_filter: dict | None = WON, records: tuple[str, ...] = ("Won", "Lost", "Won", "Open", "Won")):
    """A form with a record of each of `records` (by status) and a published scheduled tree: a
    set_field before the redirect, another in a Background."""
    form = form_create("deals", fields=FIELDS)
    for i, status in enumerate(records):
        Record.objects.create(form=form, values={"name": f"deal {i}", "status": status})
    tree = tree_create(form, [set_field("seen", "yes"), {"kind": "background", "children": [set_field("done", "yes")]}],
                       name="Nightly", event=Event.SCHEDULED, cron=cron, filter=record_filter)
    return form, tree


def runs_per_tick(tree: EventTree) -> dict[datetime, list[int]]:
    ticks: dict[datetime, list[int]] = {}
    for tick_at, record_id in Run.objects.filter(tree=tree).order_by("record_id").values_list("tick_at", "record_id"):
        ticks.setdefault(tick_at, []).append(record_id)
    return ticks


def won_ids(form) -> list[int]:
    return sorted(record.pk for record in Record.objects.filter(form=form) if record.values["status"] == "Won")


# -- the tick -------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_each_tick_runs_the_live_version_once_for_each_record_the_filter_matches(drain_blocks):
    form, tree = nightly()

    assert scheduled_tick_run(tree.pk, at=at(10, 0, 30)) == 3
    assert scheduled_tick_run(tree.pk, at=at(10, 1, 5)) == 3

    won = won_ids(form)
    assert runs_per_tick(tree) == {at(10, 0): won, at(10, 1): won}
    runs = Run.objects.filter(tree=tree)
    assert {(run.event, run.version_id, run.submission_id) for run in runs} == {("scheduled", tree.published_id, None)}
    # Before the redirect's part ran in the tick; the Background waits for a worker, as after a submit.
    assert Block.objects.filter(run__tree=tree, state=BlockState.PENDING).count() == 6
    drain_blocks()
    assert set(runs.values_list("status", flat=True)) == {RunStatus.DONE}
    values = {record.pk: record.values for record in Record.objects.filter(form=form)}
    assert sorted(pk for pk, item in values.items() if item.get("seen") == "yes" and item.get("done") == "yes") == won
    assert all("seen" not in item for pk, item in values.items() if pk not in won)


@pytest.mark.django_db
def test_a_retried_tick_starts_nothing_new():
    form, tree = nightly()
    scheduled_tick_run(tree.pk, at=at(10, 0, 2))

    # The same tick again, later in its minute (a task re-delivered, or run late): nothing new.
    assert scheduled_tick_run(tree.pk, at=at(10, 0, 59)) == 0
    assert scheduled_tick(tree.pk, at(10, 0).isoformat()) == 0

    assert runs_per_tick(tree) == {at(10, 0): won_ids(form)}


@pytest.mark.django_db
def test_a_record_that_comes_to_match_runs_at_the_next_tick_only():
    form, tree = nightly(records=("Won", "Open"))
    scheduled_tick_run(tree.pk, at=at(10, 0))
    Record.objects.filter(values__status="Open").update(values={"name": "late", "status": "Won"})

    assert scheduled_tick_run(tree.pk, at=at(10, 0, 40)) == 1  # its tick had not handled it: it runs
    assert scheduled_tick_run(tree.pk, at=at(10, 1)) == 2
    assert {tick: len(ids) for tick, ids in runs_per_tick(tree).items()} == {at(10, 0): 2, at(10, 1): 2}


@pytest.mark.django_db
def test_without_a_filter_every_record_runs_in_batches_of_their_own(monkeypatch, django_assert_max_num_queries):
    form, tree = nightly(record_filter=None, records=("Open",) * 7)
    monkeypatch.setattr(scheduled, "SCHEDULED_BATCH", 3)

    assert scheduled_tick_run(tree.pk, at=at(10, 0)) == 7

    assert runs_per_tick(tree) == {at(10, 0): sorted(Record.objects.values_list("pk", flat=True))}


@pytest.mark.django_db
def test_a_tick_over_records_none_of_which_match_costs_a_query_per_batch(django_assert_max_num_queries):
    form, tree = nightly(records=("Lost",) * 250)
    scheduled_tick_run(tree.pk, at=at(9, 0))  # the form and the live trees are cached now

    # The schedule's look (tree, schedules), the tree, then three batches of 100, each the
    # locked records in a transaction of their own (no look for runs: none matched).
    with django_assert_max_num_queries(3 + 3 * 3):
        assert scheduled_tick_run(tree.pk, at=at(10, 0)) == 0


@pytest.mark.django_db
def test_a_record_run_costs_what_a_submits_run_does_and_its_savepoint(django_assert_max_num_queries):
    _, tree = nightly(records=("Won",) * 20)
    scheduled_tick_run(tree.pk, at=at(9, 0))

    # Eight a tick (the schedule's look, the tree, one batch with its look for runs of the tick,
    # the records' post-submission pages), and per record the six writes of a submit's run of
    # this tree (the run, its block, the block's wake-up and task, the record, the steps) inside
    # a savepoint.
    with django_assert_max_num_queries(8 + (6 + 2) * 20):
        assert scheduled_tick_run(tree.pk, at=at(10, 0)) == 20


@pytest.mark.django_db
def test_a_record_refused_before_the_redirect_keeps_nothing_and_the_others_run():
    form = form_create("deals", fields=FIELDS)
    for status in ("Won", "Lost", "Won"):
        Record.objects.create(form=form, values={"name": status, "status": status})
    tree = tree_create(form, [
        {"kind": "condition", "field": "name", "op": "eq", "value": "Lost",
         "children": [{"kind": "action", "action": "fail", "config": {"message": "no"}}]},
        set_field("seen", "yes")], event=Event.SCHEDULED, cron="* * * * *")

    assert scheduled_tick_run(tree.pk, at=at(10, 0)) == 2

    lost = Record.objects.get(values__status="Lost")
    assert "seen" not in lost.values and not Run.objects.filter(record=lost).exists()


@pytest.mark.django_db(transaction=True)
def test_two_clusters_running_one_tick_at_once_start_each_run_once(monkeypatch):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(("file:memory", ":memory:")):
        pytest.skip("two connections need a test database in a file (EVENTTREE_TEST_DB)")
    form, tree = nightly(records=("Won", "Lost") * 30)
    monkeypatch.setattr(scheduled, "SCHEDULED_BATCH", 7)  # many short transactions to interleave
    started: list[int] = []
    errors: list[BaseException] = []

    def cluster(second: int) -> None:
        try:
            started.append(scheduled_tick_run(tree.pk, at=at(10, 0, second)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=cluster, args=(second,)) for second in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == [] and sum(started) == 30
    assert runs_per_tick(tree) == {at(10, 0): won_ids(form)}


# -- the time zone --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_cron_is_read_in_the_projects_time_zone(settings, monkeypatch):
    settings.TIME_ZONE = "Europe/Paris"
    monkeypatch.setattr(Conf, "TIME_ZONE", "Europe/Paris")  # django-q2 reads it once, at import
    form, tree = nightly(cron="0 3 * * *", records=("Won",))

    # 03:00 in Paris is 02:00 UTC in winter: a moment at 02:30 UTC belongs to that night's tick.
    scheduled_tick_run(tree.pk, at=at(2, 30))

    assert list(runs_per_tick(tree)) == [datetime(2026, 11, 23, 2, 0, tzinfo=UTC)]
    schedule = Schedule.objects.get(name=tree_schedule_name(tree.pk))
    assert schedule.next_run.astimezone(ZoneInfo("Europe/Paris")).hour == 3


# -- the schedule follows the tree ----------------------------------------------------------------

def schedule_of(tree: EventTree) -> tuple[str, str, str] | None:
    found = list(Schedule.objects.filter(name=tree_schedule_name(tree.pk)).values_list("func", "cron", "args"))
    assert len(found) <= 1
    return found[0] if found else None


@pytest.mark.django_db
def test_the_schedule_is_made_on_publish_changed_with_the_cron_and_removed_when_deactivated(
        django_capture_on_commit_callbacks):
    form = form_create("deals", fields=FIELDS)
    tree = tree_create(form, [set_field("seen", "yes")], publish=False, event=Event.SCHEDULED, cron="0 3 * * *")
    with django_capture_on_commit_callbacks(execute=True):
        tree_services.tree_update(tree=tree, name="Nightly")
    assert schedule_of(tree) is None  # never published: it does not run

    with django_capture_on_commit_callbacks(execute=True):
        tree_publish(tree=tree, user=None)
    assert schedule_of(tree) == (SCHEDULED_TICK, "0 3 * * *", repr(tree.pk))

    with django_capture_on_commit_callbacks(execute=True):
        tree_services.tree_update(tree=tree, cron="30 4 * * 1")
        tree_publish(tree=tree, user=None)
    assert schedule_of(tree) == (SCHEDULED_TICK, "30 4 * * 1", repr(tree.pk))
    next_run = Schedule.objects.get(name=tree_schedule_name(tree.pk)).next_run
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 4, 30)

    with django_capture_on_commit_callbacks(execute=True):
        tree_services.tree_update(tree=tree, active=False)
    assert schedule_of(tree) is None

    with django_capture_on_commit_callbacks(execute=True):
        tree_services.tree_update(tree=tree, active=True)
    assert schedule_of(tree) is not None
    with django_capture_on_commit_callbacks(execute=True):
        tree_services.tree_update(tree=tree, event=Event.SUBMITTED, cron="")
    assert schedule_of(tree) is None


@pytest.mark.django_db
def test_the_schedule_goes_with_its_tree_or_its_form(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        form, tree = nightly()
        other = tree_create(form, [], name="Hourly", event=Event.SCHEDULED, cron="0 * * * *")
    assert schedule_of(tree) and schedule_of(other)

    with django_capture_on_commit_callbacks(execute=True):
        tree_services.tree_delete(tree=tree)
    assert schedule_of(tree) is None and schedule_of(other)

    with django_capture_on_commit_callbacks(execute=True):
        form_delete(form=form)
    assert not Schedule.objects.filter(func=SCHEDULED_TICK).exists()


@pytest.mark.django_db
def test_a_rolled_back_publish_makes_no_schedule(django_capture_on_commit_callbacks):
    form = form_create("deals", fields=FIELDS)
    tree = tree_create(form, [set_field("nowhere", "x")], publish=False, event=Event.SCHEDULED, cron="* * * * *")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception, match="attention"):
        tree_publish(tree=tree, user=None)

    assert schedule_of(tree) is None


@pytest.mark.django_db
def test_a_tick_of_a_tree_no_longer_scheduled_runs_nothing_and_removes_its_schedule():
    form, tree = nightly()
    tree_schedule_sync(tree.pk)
    # Deactivated where no signal reached the schedule (an UPDATE of many rows, say).
    EventTree.objects.filter(pk=tree.pk).update(active=False)

    assert scheduled_tick_run(tree.pk, at=at(10, 0)) == 0
    assert schedule_of(tree) is None and not Run.objects.exists()
    assert scheduled_tick_run(123456, at=at(10, 0)) == 0  # a tree deleted since: nothing


@pytest.mark.django_db
def test_a_renamed_field_is_renamed_in_the_filter_and_a_field_it_uses_is_not_deleted():
    form, tree = nightly()
    status = form.fields.get(name="status")

    field_update(field=status, name="stage")
    tree.refresh_from_db()
    assert tree.filter == {"field": "stage", "op": "eq", "value": "Won"}
    with pytest.raises(FieldInUse, match="its record filter"):
        field_delete(field=form.fields.get(name="stage"))


# -- the editor ----------------------------------------------------------------------------------

def builder() -> Client:
    client = Client()
    client.force_login(staff_create("builder", *BUILDER_PERMISSIONS))
    return client


@pytest.mark.django_db
def test_the_editor_shows_the_next_five_times_in_the_projects_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    _, tree = nightly(cron="15 6 * * *")

    page = builder().get(f"/builder/trees/{tree.pk}/").content.decode()

    section = page.split('id="tree-schedule"')[1].split("</section>")[0]
    assert "<code>15 6 * * *</code>" in section and "America/New_York" in section
    assert "records where status equals &#x27;Won&#x27;" in section
    times = [chunk.split('"')[0] for chunk in section.split('<time datetime="')[1:]]
    assert len(times) == 5
    moments = [datetime.fromisoformat(item) for item in times]
    assert all((moment.hour, moment.minute) == (6, 15) for moment in moments)
    assert all(moment.utcoffset() == ZoneInfo("America/New_York").utcoffset(moment.replace(tzinfo=None))
               for moment in moments)
    assert [(b - a).days for a, b in zip(moments, moments[1:])] == [1, 1, 1, 1]


@pytest.mark.django_db
def test_the_editor_says_why_a_scheduled_tree_does_not_run_yet():
    form = form_create("deals", fields=FIELDS)
    tree = tree_create(form, [], publish=False, event=Event.SCHEDULED, cron="0 3 * * *")
    other = tree_create(form, [], name="On submit")
    client = builder()

    page = client.get(f"/builder/trees/{tree.pk}/").content.decode()

    assert "Not scheduled yet: publish the tree first." in page and page.count("<time datetime=") == 5
    assert 'id="tree-schedule"' not in client.get(f"/builder/trees/{other.pk}/").content.decode()


def settings_post(client: Client, tree: EventTree, **values: str):
    data = {"tree-name": tree.name, "tree-event": "scheduled", "tree-mode": "sync", "tree-active": "on",
            "tree-max_attempts": "3", **{f"tree-{key}": value for key, value in values.items()}}
    return client.post(f"/builder/trees/{tree.pk}/settings/", data, HTTP_HX_REQUEST="true")


@pytest.mark.django_db
def test_the_tree_settings_take_a_cron_and_a_filter(django_capture_on_commit_callbacks):
    form, tree = nightly(cron="0 3 * * *", record_filter=None)
    client = builder()

    with django_capture_on_commit_callbacks(execute=True):
        response = settings_post(client, tree, cron="  45  23 * * 5 ", filter_field="status", filter_op="ne",
                                 filter_value="Lost")

    assert response.status_code == 200 and "Saved." in response.content.decode()
    tree.refresh_from_db()
    assert (tree.cron, tree.filter) == ("45 23 * * 5", {"field": "status", "op": "ne", "value": "Lost"})
    assert schedule_of(tree) == (SCHEDULED_TICK, "45 23 * * 5", repr(tree.pk))
    page = response.content.decode()
    assert 'value="45 23 * * 5"' in page and "records where status does not equal &#x27;Lost&#x27;" in page

    settings_post(client, tree, cron="0 3 * * *", filter_field="status", filter_op="is_set", filter_value="x")
    tree.refresh_from_db()
    assert tree.filter == {"field": "status", "op": "is_set"}
    settings_post(client, tree, cron="0 3 * * *", filter_field="")
    tree.refresh_from_db()
    assert tree.filter is None


@pytest.mark.django_db
@pytest.mark.parametrize(("values", "error"), [
    ({"cron": "every night"}, "&#x27;every night&#x27; is not a valid cron expression."),
    ({"cron": ""}, "A scheduled tree needs a cron expression."),
    ({"cron": "0 3 * * * 30"}, "has 6 fields; use five"),
    ({"cron": "0 0 30 2 *"}, "never fires"),
    ({"cron": "0 3 * * *", "filter_field": "status", "filter_op": "eq", "filter_value": ""}, "Required with this test."),
    ({"cron": "0 3 * * *", "filter_field": "status", "filter_op": "bigger", "filter_value": "1"}, "Select a valid choice"),
])
def test_the_tree_settings_refuse_a_bad_cron_or_filter_and_change_nothing(values, error):
    _, tree = nightly(cron="0 3 * * *")

    response = settings_post(builder(), tree, **values)

    assert error in response.content.decode()
    tree.refresh_from_db()
    assert (tree.cron, tree.filter) == ("0 3 * * *", WON)


@pytest.mark.django_db
def test_another_event_keeps_no_cron_or_filter():
    _, tree = nightly()

    settings_post(builder(), tree, event="submitted", cron="0 3 * * *", filter_field="status", filter_op="eq",
                  filter_value="Won")

    tree.refresh_from_db()
    assert (tree.event, tree.cron, tree.filter) == ("submitted", "", None)


@pytest.mark.django_db
def test_changing_the_settings_needs_the_change_permission():
    _, tree = nightly(cron="0 3 * * *")
    client = Client()
    client.force_login(staff_create("viewer", "eventtree.view_eventtree", "eventtree.view_form"))

    response = settings_post(client, tree, cron="* * * * *")

    assert response.status_code == 403
    tree.refresh_from_db()
    assert tree.cron == "0 3 * * *"
    assert "<code>0 3 * * *</code>" in client.get(f"/builder/trees/{tree.pk}/").content.decode()


# -- the package ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_package_round_trips_the_cron_and_the_filter_and_its_import_schedules_the_tree(
        django_capture_on_commit_callbacks):
    form, tree = nightly(cron="0 3 * * 1-5")
    package = form_package_export(form=form)
    assert package["trees"][0] | {"nodes": []} == {
        "name": "Nightly", "event": "scheduled", "mode": "sync", "active": True, "max_attempts": 3,
        "cron": "0 3 * * 1-5", "filter": WON, "nodes": []}
    package["form"]["slug"] = "copy"

    with django_capture_on_commit_callbacks(execute=True):
        copy = form_package_import(data=package)

    again = form_package_export(form=copy)
    assert again["trees"] == package["trees"]
    assert schedule_of(copy.trees.get()) == (SCHEDULED_TICK, "0 3 * * 1-5", repr(copy.trees.get().pk))


@pytest.mark.django_db
@pytest.mark.parametrize(("tree", "problem"), [
    ({"cron": "0 3 * *"}, "trees[0].cron: '0 3 * *' is not a valid cron expression"),
    ({"cron": "*/5 * * * * 10"}, "trees[0].cron: '*/5 * * * * 10' has 6 fields; use five"),
    ({"cron": 5}, "trees[0].cron: a scheduled tree needs a cron expression"),
    ({"cron": "0 3 * * *", "filter": {"field": "stage", "op": "eq", "value": "Won"}},
     "trees[0].filter.field: the form has no field named 'stage'"),
])
def test_an_import_with_a_bad_cron_or_filter_is_refused_and_changes_nothing(tree, problem):
    package = {"form": {"slug": "deals", "name": "Deals", "fields": [{"name": "status", "type": "text"}]},
               "trees": [{"name": "Nightly", "event": "scheduled", "nodes": [], **tree}]}

    with pytest.raises(PackageInvalid) as refused:
        form_package_import(data=package)

    assert any(found.startswith(problem) for found in refused.value.problems), refused.value.problems
    assert not EventTree.objects.exists() and not Schedule.objects.filter(func=SCHEDULED_TICK).exists()
