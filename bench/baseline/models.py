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
