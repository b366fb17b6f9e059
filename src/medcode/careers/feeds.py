"""RSS 2.0 and Atom feeds of a job search: /jobs/feed.rss?credential=CPC&workplace=remote, the same
parameters as /jobs. A bad parameter answers 400 in plain text (feed readers show the status)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.syndication.views import Feed
from django.http import HttpResponse
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed

from . import markup
from . import search as job_search
from .query import QueryError, parse

FEED_ITEMS = 50


def _params(request):
    return parse({k: request.GET.getlist(k) for k in request.GET})


class JobsRss(Feed):
    feed_type = Rss201rev2Feed

    def __call__(self, request, *args, **kwargs):
        try:  # one Feed instance serves every request: nothing is kept on self
            _params(request)
        except QueryError as exc:
            return HttpResponse(f"Bad search: {exc}\n", status=400, content_type="text/plain; charset=utf-8")
        response = super().__call__(request, *args, **kwargs)
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def get_object(self, request, *args, **kwargs):
        return _params(request)

    def title(self, query):
        return f"medcode jobs: {query.describe()}"

    def link(self, query):
        params = urlencode(query.params(page=1))
        return reverse("jobs:list") + (f"?{params}" if params else "")

    def description(self, query):
        return f"Medical coding jobs on medcode matching: {query.describe()}."

    def items(self, query):
        return job_search.jobs(query)[:FEED_ITEMS]

    def item_title(self, job):
        return f"{job.title} — {job.employer.company_name}"

    def item_description(self, job):
        facts = " · ".join(x for x in (job.location_text, job.salary_text, ", ".join(job.credential_list)) if x)
        return f"{facts}\n\n{markup.plain(job.description, 400)}"

    def item_link(self, job):
        return reverse("jobs:detail", args=[job.pk])

    def item_guid(self, job):
        return reverse("jobs:detail", args=[job.pk])

    def item_pubdate(self, job):
        return job.posted_at

    def item_updateddate(self, job):
        return job.updated

    def item_categories(self, job):
        return job.credential_list + job.setting_labels


class JobsAtom(JobsRss):
    feed_type = Atom1Feed
    subtitle = JobsRss.description
