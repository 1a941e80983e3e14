"""Signals that other apps may listen to.

record_event: sent inside the transaction, after a record event fired its trees; arguments
`record`, `event` and `runs` (the runs started).
"""

from django.dispatch import Signal

record_event = Signal()
