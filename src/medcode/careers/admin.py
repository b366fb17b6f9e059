from django.contrib import admin, messages

from . import actions
from .models import AlertSent, Application, ApplicationMessage, Employer, Job, JobStatus, SavedSearch


@admin.register(Employer)
class EmployerAdmin(admin.ModelAdmin):
    list_display = ("company_name", "user", "approved", "created")
    list_filter = ("approved",)
    search_fields = ("company_name", "user__email")
    readonly_fields = ("logo_path", "created", "updated")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("title", "employer", "status", "workplace", "posted_at", "expires_at")
    list_filter = ("status", "workplace", "employment_type")
    search_fields = ("title", "employer__company_name")
    readonly_fields = ("description_html", "annual_min", "annual_max", "created", "updated", "submitted_at",
                       "posted_at", "expires_at", "closed_at")
    actions = ["approve_selected"]

    @admin.action(description="Approve the selected pending jobs (and trust their employers)")
    def approve_selected(self, request, queryset):
        done = 0
        for job in queryset.filter(status=JobStatus.PENDING):
            actions.approve(job, request.user)
            done += 1
        self.message_user(request, f"{done} job(s) approved.", messages.SUCCESS)


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    """Staff see that applications exist and their status; résumés and notes stay between the two sides."""

    list_display = ("job", "applicant", "status", "created")
    list_filter = ("status",)
    search_fields = ("job__title", "applicant__email")
    fields = ("job", "applicant", "status", "created", "status_changed", "resume_kind", "resume_size")
    readonly_fields = fields


@admin.register(ApplicationMessage)
class ApplicationMessageAdmin(admin.ModelAdmin):
    list_display = ("application", "sender", "created")


@admin.register(SavedSearch)
class SavedSearchAdmin(admin.ModelAdmin):
    list_display = ("label", "user", "active", "created", "last_sent_at")
    list_filter = ("active",)
    search_fields = ("user__email", "label")


@admin.register(AlertSent)
class AlertSentAdmin(admin.ModelAdmin):
    list_display = ("search", "job", "sent_at")
