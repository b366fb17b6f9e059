"""Forms check what was typed or uploaded and say what is wrong; actions.py changes state."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.core.validators import URLValidator

from . import files, images, markup, vocab
from .models import Job

HTTP_ONLY = URLValidator(schemes=["http", "https"], message="Enter a web address starting with http:// or https://.")
MAX_SALARY = Decimal("10000000")
MAX_NOTE = 5000


def _no_control(value: str, what: str) -> str:
    if any(ord(c) < 32 and c not in "\t" for c in value):
        raise forms.ValidationError(f"The {what} cannot contain line breaks or control characters.")
    return value


class HttpUrlField(forms.URLField):
    """A web address: http or https only (never javascript:, data:, ftp: ...)."""

    default_validators = [HTTP_ONLY]
    default_error_messages = {"invalid": HTTP_ONLY.message}


def _url_field(label: str, **kwargs) -> forms.URLField:
    return HttpUrlField(label=label, max_length=kwargs.pop("max_length", 300), assume_scheme="https", **kwargs)


class EmployerForm(forms.Form):
    company_name = forms.CharField(label="Company name", max_length=120)
    website = _url_field("Company website", required=False, help_text="https://...")
    logo = forms.FileField(label="Logo", required=False,
                           help_text=f"PNG, JPEG, GIF or WebP, at most {images.MAX_LOGO_BYTES // 1048576} MB; "
                                     f"shown at most {images.LOGO_BOX[0]} pixels wide.",
                           widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}))
    remove_logo = forms.BooleanField(label="Remove the current logo", required=False)

    def __init__(self, *args, has_logo: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["logo"].widget = forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"})
        if not has_logo:
            del self.fields["remove_logo"]

    def clean_company_name(self):
        name = " ".join(self.cleaned_data["company_name"].split())
        if not name:
            raise forms.ValidationError("Enter the company's name.")
        return _no_control(name, "company name")

    def clean_logo(self):
        upload = self.cleaned_data.get("logo")
        if not upload:
            return None
        if upload.size > images.MAX_LOGO_BYTES:
            raise forms.ValidationError(f"The logo is {upload.size / 1048576:.1f} MB; at most "
                                        f"{images.MAX_LOGO_BYTES // 1048576} MB.")
        data = upload.read()
        try:
            images.process_logo(data)
        except images.ImageRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


def _checkboxes(label, pairs, required=False, help_text=""):
    return forms.MultipleChoiceField(label=label, choices=pairs, required=required, help_text=help_text,
                                     widget=forms.CheckboxSelectMultiple)


class JobForm(forms.Form):
    title = forms.CharField(label="Job title", max_length=120)
    workplace = forms.ChoiceField(label="Where the work is done", choices=vocab.WORKPLACES,
                                  widget=forms.RadioSelect)
    city = forms.CharField(label="City", max_length=80, required=False)
    state = forms.CharField(label="State or region", max_length=80, required=False)
    country = forms.CharField(label="Country (two-letter code)", max_length=2, initial="US")
    employment_type = forms.ChoiceField(label="Employment type", choices=vocab.EMPLOYMENT_TYPES)
    credentials = _checkboxes("Credentials required (any of)", vocab.CREDENTIALS)
    coding_settings = _checkboxes("Setting", vocab.SETTINGS, required=True)
    specialties = _checkboxes("Specialties", vocab.SPECIALTIES)
    experience_years = forms.IntegerField(label="Years of coding experience", min_value=0, max_value=40, initial=0)
    salary_min = forms.DecimalField(label="Pay from", required=False, min_value=0, max_value=MAX_SALARY,
                                    max_digits=12, decimal_places=2)
    salary_max = forms.DecimalField(label="Pay up to", required=False, min_value=0, max_value=MAX_SALARY,
                                    max_digits=12, decimal_places=2)
    salary_currency = forms.ChoiceField(label="Currency", choices=vocab.CURRENCIES, initial="USD")
    salary_period = forms.ChoiceField(label="Pay period", choices=vocab.PERIODS, initial="year")
    description = forms.CharField(label="Description", max_length=markup.MAX_MARKDOWN, min_length=30,
                                  widget=forms.Textarea(attrs={"rows": 14}),
                                  help_text="Markdown: **bold**, *italic*, lists with - or 1., "
                                            "[links](https://...), ## headings. HTML is shown as text.")
    apply_mode = forms.ChoiceField(label="How to apply", widget=forms.RadioSelect,
                                   choices=[("onsite", "On medcode: a cover note and a résumé"),
                                            ("external", "On our own site (give the link)")], initial="onsite")
    apply_url = _url_field("Application link", required=False, max_length=500,
                           help_text="For applying on your own site: an http:// or https:// address.")

    def clean_title(self):
        title = " ".join(self.cleaned_data["title"].split())
        if not title:
            raise forms.ValidationError("Enter a job title.")
        return _no_control(title, "title")

    def clean_city(self):
        return _no_control(" ".join(self.cleaned_data["city"].split()), "city")

    def clean_state(self):
        return _no_control(" ".join(self.cleaned_data["state"].split()), "state")

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise forms.ValidationError("Enter the two-letter country code (US, CA, GB, ...).")
        return country

    def clean(self):
        data = super().clean()
        if data.get("workplace") in ("onsite", "hybrid") and not (data.get("city") or data.get("state")):
            self.add_error("city", "An on-site or hybrid job needs a city or a state.")
        lo, hi = data.get("salary_min"), data.get("salary_max")
        if lo is not None and hi is not None and lo > hi:
            self.add_error("salary_max", "The upper end of the pay range is below the lower end.")
        if data.get("apply_mode") == "external" and not data.get("apply_url"):
            self.add_error("apply_url", "Give the link where people apply, or choose to take applications here.")
        return data

    @staticmethod
    def initial_from(job: Job) -> dict:
        data = {name: getattr(job, name) for name in
                ("title", "workplace", "city", "state", "country", "employment_type", "experience_years",
                 "salary_min", "salary_max", "salary_currency", "salary_period", "description", "apply_mode",
                 "apply_url")}
        data.update(credentials=job.credential_list, specialties=job.specialty_list,
                    coding_settings=job.setting_list)
        return data


class ApplicationForm(forms.Form):
    cover_note = forms.CharField(label="Cover note", max_length=MAX_NOTE, widget=forms.Textarea(attrs={"rows": 8}),
                                 help_text="What the employer should know: your credentials, experience, when you "
                                           "can start.")
    resume = forms.FileField(label="Résumé", help_text=f"PDF or Word (.docx), at most "
                                                       f"{files.MAX_RESUME // 1048576} MB.",
                             widget=forms.FileInput(attrs={"accept": ".pdf,.docx,application/pdf,"
                                                           "application/vnd.openxmlformats-officedocument."
                                                           "wordprocessingml.document"}))

    def clean_cover_note(self):
        note = self.cleaned_data["cover_note"].strip()
        if "\x00" in note:
            raise forms.ValidationError("The cover note contains characters that cannot be stored.")
        return note

    def clean_resume(self):
        upload = self.cleaned_data["resume"]
        try:
            self.kind = files.resume_kind(upload, upload.size)
        except files.FileRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return upload


class StatusForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=vocab.APPLICATION_STATUSES)


class MessageForm(forms.Form):
    body = forms.CharField(label="Message to the applicant", max_length=MAX_NOTE,
                           widget=forms.Textarea(attrs={"rows": 6}))

    def clean_body(self):
        body = self.cleaned_data["body"].strip()
        if not body or "\x00" in body:
            raise forms.ValidationError("Write a message.")
        return body


class RejectForm(forms.Form):
    reason = forms.CharField(label="Reason (sent to the employer)", max_length=500)
