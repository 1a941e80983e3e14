from django.db import models


class Entry(models.Model):
    """What the product's reference form stores, as one plain model."""

    name = models.CharField(max_length=200)
    email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)


class Counter(models.Model):
    """A row a bare django-q2 task updates once."""

    n = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True)


class Batch(models.Model):
    """What a run is to a block, by hand: finished when its last job is."""

    status = models.CharField(max_length=8, default="running")
    finished_at = models.DateTimeField(null=True)


class Job(models.Model):
    """What a block is, by hand: a claim with attempts and a lease, a history, a flag."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="jobs")
    counter = models.ForeignKey(Counter, on_delete=models.CASCADE)
    state = models.CharField(max_length=8, default="pending")
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)


class JobStep(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE)
    label = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()


class JobFlag(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    value = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "name"], name="jobflag_unique_per_batch")]
