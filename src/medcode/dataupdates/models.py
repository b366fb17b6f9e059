from django.conf import settings
from django.db import models


class UpdatePolicy(models.Model):
    """One row: whether scheduled checks also download and import what they find (staff switch it)."""

    apply_automatically = models.BooleanField(
        default=False, help_text="Scheduled checks download, check and import new official releases and rebuild "
                                 "the codebook, instead of only reporting them.")
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = "update policy"
        verbose_name_plural = "update policy"

    def __str__(self) -> str:
        return "apply new releases automatically" if self.apply_automatically else "report new releases only"

    @classmethod
    def current(cls) -> "UpdatePolicy":
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy


class UpdateCheck(models.Model):
    """One check for new official releases and what came of it."""

    UP_TO_DATE, MISSING, IMPORTED, FAILED, OFFLINE, ERROR, RUNNING = (
        "up_to_date", "missing", "imported", "failed", "offline", "error", "running")
    OUTCOMES = [(UP_TO_DATE, "Up to date"), (MISSING, "New releases found (not applied)"),
                (IMPORTED, "New releases imported"), (FAILED, "Some releases failed"), (OFFLINE, "Offline"),
                (ERROR, "Could not check"), (RUNNING, "Running")]

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=20, default="scheduled")  # scheduled | staff
    apply = models.BooleanField(default=False)
    outcome = models.CharField(max_length=20, choices=OUTCOMES, default=RUNNING)
    missing = models.JSONField(default=list, blank=True)
    imported = models.JSONField(default=list, blank=True)
    failed = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.get_outcome_display()}"
