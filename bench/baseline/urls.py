from django.urls import path

from bench.baseline import views

urlpatterns = [
    path("entries/", views.EntryCreate.as_view()),
    path("constant.json", views.constant),
    path("by-hand/", views.submit_by_hand),
]
