"""Turns a missing or outdated codebook into a clear 503 page instead of a stack trace."""

from django.shortcuts import render

from medcode.codebook.errors import BookMissing


class CodebookUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, BookMissing):
            return render(request, "web/error.html",
                          {"title": "Reference data not available", "message": str(exception)}, status=503)
        return None
