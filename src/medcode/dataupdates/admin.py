from django.contrib import admin

from .models import UpdateCheck, UpdatePolicy


@admin.register(UpdatePolicy)
class UpdatePolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "apply_automatically", "changed_at", "changed_by")
    readonly_fields = ("changed_at", "changed_by")

    def has_add_permission(self, request):
        return not UpdatePolicy.objects.exists()

    def save_model(self, request, obj, form, change):
        from django.utils import timezone

        obj.changed_at, obj.changed_by = timezone.now(), request.user
        super().save_model(request, obj, form, change)


@admin.register(UpdateCheck)
class UpdateCheckAdmin(admin.ModelAdmin):
    list_display = ("started_at", "trigger", "apply", "outcome", "finished_at")
    list_filter = ("outcome", "trigger")
    readonly_fields = [f.name for f in UpdateCheck._meta.fields]

    def has_add_permission(self, request):
        return False
