from django.http import HttpResponse
from django.urls import include, path

# A purpose's page, as an app owning a purpose routes it (`link_<purpose>`), beside the project's routes.
urlpatterns = [
    path("t/<str:token>/", lambda request, token: HttpResponse(token), name="link_test_purpose"),
    path("", include("clinic.urls")),
]
