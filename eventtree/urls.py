from django.urls import path

from eventtree.views import public, webhooks

app_name = "eventtree"

urlpatterns = [
    path("", public.home, name="home"),
    path("f/<slug:slug>/", public.form_submit, name="form"),
    path("f/<slug:slug>/submitted/", public.submitted_plain, name="submitted"),
    path("f/<slug:slug>/submitted/<str:token>/", public.submission_status, name="submission"),
    path(
        "f/<slug:slug>/submitted/<str:token>/status.json",
        public.submission_status_json,
        name="submission-json",
    ),
    path("hooks/<slug:slug>/", webhooks.webhook_receive, name="webhook"),
]
