from django.urls import path  # noqa: F401  (pages are added below by their features)

app_name = "visits"

urlpatterns = []
