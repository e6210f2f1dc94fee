from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from clinic import views

handler400 = "clinic.api_errors.handler400"
handler404 = "clinic.api_errors.handler404"
handler500 = "clinic.api_errors.handler500"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("admin/", admin.site.urls),
    path("", include("visits.urls")),
    path("scheduling/", include("scheduling.urls")),
    path(
        "api/v3/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    path(
        "api/v3/docs/",
        SpectacularSwaggerView.as_view(
            url_name="api-schema", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
    path(
        "api/v3/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", authentication_classes=[], permission_classes=[]),
        name="api-redoc",
    ),
    path("api/v3/", include("clinic.api_urls")),
]
