from django.db import models


class PeriodicRun(models.Model):
    """One scheduled task: when it was last enqueued and what its last result was (shown to staff)."""

    name = models.CharField(max_length=100, unique=True)
    task_path = models.CharField(max_length=200)
    every_seconds = models.PositiveIntegerField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    last_result_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
