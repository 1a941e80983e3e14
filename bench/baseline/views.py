import functools

from django import forms
from django.db import transaction
from django.db.models.functions import Now
from django.http import HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.generic import CreateView

from bench.baseline.models import Entry


class EntryForm(forms.ModelForm):
    class Meta:
        model = Entry
        fields = ["name", "email"]


class EntryCreate(CreateView):
    model = Entry
    form_class = EntryForm
    template_name = "eventtree/form.html"  # never rendered by the benchmark's valid posts
    success_url = "/bench/entries/done/"


def constant(request):
    return JsonResponse({"status": "done", "finished": True, "blocks": [], "flags": {}, "progress": []})


@functools.cache
def reference_tree() -> tuple[int, int, int]:
    """The reference form's id, its tree's and its published version's, read once per process."""
    from eventtree.models import EventTree

    tree = EventTree.objects.select_related("form").get(form__slug="membership")
    return tree.form_id, tree.pk, tree.published_id


@require_POST
def submit_by_hand(request):
    """What a submit of the reference tree must write, written by hand with the ORM, without the
    engine (no walk, no template, no cache): the same 8 statements in one transaction as the
    product's — the record, its submission, run and Background block, the record's values set by
    the two sync actions, the steps, the block's wake-up mark and its task — after the same
    validation as the plain CreateView."""
    from django_q.tasks import async_task

    from eventtree.models import Block, Phase, Record, Run, Step, Submission, due_now

    form = EntryForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest()
    form_id, tree_id, version_id = reference_tree()
    values = {"name": form.cleaned_data["name"], "email": form.cleaned_data["email"]}
    with transaction.atomic():
        record = Record.objects.create(form_id=form_id, values=values)
        submission = Submission.objects.create(form_id=form_id, record=record, event="submitted")
        run = Run.objects.create(tree_id=tree_id, version_id=version_id, record=record, submission=submission,
                                 event="submitted")
        block = Block.objects.create(run=run, label="Slow part", due_at=due_now())
        record.values = {**values, "field_a": f"A:{values['name']}", "field_d": "D"}
        record.save(update_fields=["values", "updated_at"])
        now = timezone.now()
        Step.objects.bulk_create([Step(run=run, label=label, phase=Phase.SYNC, status="done", started_at=now,
                                       finished_at=timezone.now()) for label in ("A", "Slow part", "D")])
        if Block.objects.filter(pk=block.pk, woken_at__isnull=True).update(woken_at=Now(), woken_by="commit"):
            async_task("eventtree.tasks.run_block", block.pk, task_name=f"block-{block.pk}", group="blocks")
    return HttpResponseRedirect(f"/f/membership/submitted/{submission.token}/")
