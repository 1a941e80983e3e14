from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from bench.baseline.models import Batch, Counter, Job, JobFlag, JobStep


def bump(counter_id: int) -> None:
    """One UPDATE: what the product's one-action Background block does to its record."""
    Counter.objects.filter(pk=counter_id).update(n=F("n") + 1, done_at=timezone.now())


def unit_of_work(job_id: int) -> None:
    """What any block must do, written by hand with the ORM, without the engine: its claim
    committed on its own (so that a worker that dies mid-way has used up an attempt), then in one
    transaction its record locked and updated, its step written, its end, its flag, and its run's
    end if it was the last: the same 8 statements in 2 transactions as the product's block."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state="pending").update(
        state="running", attempts=F("attempts") + 1, lease_until=now + timedelta(minutes=5), started_at=now)
    if not claimed:
        return
    job = Job.objects.select_related("batch").get(pk=job_id)
    with transaction.atomic():
        counter = Counter.objects.select_for_update().get(pk=job.counter_id)
        Counter.objects.filter(pk=counter.pk).update(n=F("n") + 1, done_at=now)
        JobStep.objects.bulk_create([JobStep(job=job, label="one action", started_at=now, finished_at=timezone.now())])
        Job.objects.filter(pk=job.pk, state="running").update(state="done", finished_at=timezone.now(), lease_until=None)
        JobFlag.objects.bulk_create([JobFlag(batch_id=job.batch_id, name=f"job-{job.pk}")], update_conflicts=True,
                                    unique_fields=["batch", "name"], update_fields=["value"])
        unfinished = Job.objects.filter(batch=OuterRef("pk")).exclude(state="done")
        Batch.objects.filter(pk=job.batch_id, status="running").exclude(Exists(unfinished)).update(
            status="done", finished_at=timezone.now())
