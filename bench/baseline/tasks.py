from django.db.models import F
from django.utils import timezone

from bench.baseline.models import Counter


def bump(counter_id: int) -> None:
    """One UPDATE: what the product's one-action Background block does to its record."""
    Counter.objects.filter(pk=counter_id).update(n=F("n") + 1, done_at=timezone.now())
