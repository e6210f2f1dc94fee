from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from clinic import admin_views, health, views
from waitlist import views as waitlist_views

# The API docs pages (drf-spectacular's Swagger UI and Redoc, from the sidecar's static files) style
# themselves inline and Redoc runs a worker from a blob: still no inline script (the split Swagger view
# serves its settings as a script file).
docs_policy = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})

handler400 = "clinic.api_errors.handler400"
handler403 = "clinic.api_errors.handler403"
handler404 = "clinic.api_errors.handler404"
handler500 = "clinic.api_errors.handler500"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("session/", views.session_status, name="session-status"),
    path("session/keepalive/", views.session_keepalive, name="session-keepalive"),
    path("manage/lockouts/", views.lockouts, name="lockouts"),
    path("admin/", admin.site.urls),
    path("manage/audit/", admin_views.audit_log, name="audit"),
    path("manage/audit/export.csv", admin_views.audit_csv, name="audit-csv"),
    path("", include("visits.urls")),
    path("scheduling/", include("scheduling.urls")),
    path("waitlist/", include("waitlist.urls")),
    # A signed link's page is named `link_<purpose>` (messaging/links.py): the patient's, no login.
    path("offer/<str:token>/", waitlist_views.offer, name="link_waitlist_offer"),
    path("manage/webhooks/", include("webhooks.urls")),
    # The patients' pages behind the links in their messages (no login).
    path("a/", include("reminders.urls")),
    path(
        "api/v3/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    path(
        "api/v3/docs/",
        docs_policy(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", authentication_classes=[], permission_classes=[]
            )
        ),
        name="api-docs",
    ),
    path(
        "api/v3/redoc/",
        docs_policy(
            SpectacularRedocView.as_view(
                url_name="api-schema", authentication_classes=[], permission_classes=[]
            )
        ),
        name="api-redoc",
    ),
    path("api/v3/", include("clinic.api_urls")),
]
