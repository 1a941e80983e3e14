"""`manage.py bench_enqueue N [--unit-of-work]`: N bare django-q2 tasks, each updating one row
(`bump`), or each doing by hand what a block does (`unit_of_work`, one job per batch)."""

from django.core.management.base import BaseCommand
from django_q.tasks import async_task

from bench.baseline.models import Batch, Counter, Job


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("count", type=int)
        parser.add_argument("--unit-of-work", action="store_true")

    def handle(self, *args, count: int, unit_of_work: bool, **options):
        counters = Counter.objects.bulk_create([Counter() for _ in range(count)])
        if not unit_of_work:
            for counter in counters:
                async_task("bench.baseline.tasks.bump", counter.pk)
            return
        batches = Batch.objects.bulk_create([Batch() for _ in range(count)])
        jobs = Job.objects.bulk_create([Job(batch=batch, counter=counter) for batch, counter in zip(batches, counters)])
        for job in jobs:
            async_task("bench.baseline.tasks.unit_of_work", job.pk)
