from django import forms
from django.http import JsonResponse
from django.views.generic import CreateView

from bench.baseline.models import Entry


class EntryForm(forms.ModelForm):
    class Meta:
        model = Entry
        fields = ["name", "email"]


class EntryCreate(CreateView):
    model = Entry
    form_class = EntryForm
    template_name = "eventtree/form.html"  # never rendered by the benchmark's valid posts
    success_url = "/bench/entries/done/"


def constant(request):
    return JsonResponse({"status": "done", "finished": True, "blocks": [], "flags": {}, "progress": []})
