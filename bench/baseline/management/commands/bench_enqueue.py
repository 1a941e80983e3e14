"""`manage.py bench_enqueue N`: N rows and N bare django-q2 tasks, each updating one row."""

from django.core.management.base import BaseCommand
from django_q.tasks import async_task

from bench.baseline.models import Counter


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("count", type=int)

    def handle(self, *args, count: int, **options):
        counters = Counter.objects.bulk_create([Counter() for _ in range(count)])
        for counter in counters:
            async_task("bench.baseline.tasks.bump", counter.pk)
