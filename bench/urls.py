from django.urls import include, path

urlpatterns = [
    path("bench/", include("bench.baseline.urls")),
    path("", include("automations.urls")),
]
