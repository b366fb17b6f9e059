"""Staff page: the last checks for new official releases, the auto-apply switch, check / apply now."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .models import UpdateCheck, UpdatePolicy

ACTIONS = ("save", "check", "apply")


@staff_member_required
@require_http_methods(["GET", "POST"])
def staff_page(request: HttpRequest) -> HttpResponse:
    policy = UpdatePolicy.current()
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            messages.error(request, "Unknown action.")
            return redirect("data_updates")
        if action == "save":
            policy.apply_automatically = request.POST.get("apply_automatically") == "on"
            policy.changed_at, policy.changed_by = timezone.now(), request.user
            policy.save()
            messages.success(request, "Scheduled checks now " + ("apply new releases." if policy.apply_automatically
                                                                 else "only report new releases."))
        else:
            from .tasks import check_official_releases_now

            check_official_releases_now.enqueue(apply=action == "apply")
            messages.success(request, "A check for new releases was queued" + (
                " (found releases will be downloaded and imported)." if action == "apply" else "."))
        return redirect("data_updates")
    checks = list(UpdateCheck.objects.all()[:10])
    return render(request, "dataupdates/staff.html", {"policy": policy, "checks": checks,
                                                      "last": checks[0] if checks else None})
