from django.urls import path

from clinic import api as clinic_api
from clinic.api_base import one_url
from scheduling import api as scheduling_api
from visits import api as visits_api
from webhooks import api as webhooks_api

urlpatterns = [
    path("users/sso", clinic_api.UserSsoApi.as_view(), name="users-sso"),
    path("users/login", clinic_api.UserLoginApi.as_view(), name="users-login"),
    path("users/token/refresh", clinic_api.TokenRefreshApi.as_view(), name="users-token-refresh"),
    path("users/logout", clinic_api.UserLogoutApi.as_view(), name="users-logout"),
    path("users", clinic_api.UserListApi.as_view(), name="users"),
    path("users/<str:user_id>", clinic_api.UserDetailApi.as_view(), name="user-detail"),
    path("accounts/<str:code>", clinic_api.AccountDetailApi.as_view(), name="account-detail"),
    path("audit_events", clinic_api.AuditEventListApi.as_view(), name="audit-events"),
    path("rooms", clinic_api.RoomListApi.as_view(), name="rooms"),
    path("rooms/<str:room_code>", clinic_api.RoomDetailApi.as_view(), name="room-detail"),
    path("intakes", visits_api.IntakeCreateApi.as_view(), name="intakes"),
    path("intakes/<str:intake_id>", visits_api.IntakeDetailApi.as_view(), name="intake-detail"),
    path("intakes/<str:intake_id>/addenda", visits_api.IntakeAddendumApi.as_view(), name="intake-addenda"),
    path("files", visits_api.FileUploadApi.as_view(), name="files"),
    path("files/<str:file_id>", visits_api.FileDetailApi.as_view(), name="file-detail"),
    path("availability", scheduling_api.AvailabilityApi.as_view(), name="availability"),
    path(
        "visits",
        one_url("VisitsApi", get=visits_api.VisitListApi, post=scheduling_api.AppointmentCreateApi).as_view(),
        name="visits",
    ),
    path("visits/add_walkin", visits_api.VisitAddWalkinApi.as_view(), name="visits-add-walkin"),
    path("visits/add_econsult", visits_api.VisitAddEconsultApi.as_view(), name="visits-add-econsult"),
    path("visits/accept", visits_api.VisitAcceptApi.as_view(), name="visits-accept"),
    path("visits/complete", visits_api.VisitCompleteApi.as_view(), name="visits-complete"),
    path("visits/close", visits_api.VisitCloseApi.as_view(), name="visits-close"),
    path("visits/delete", visits_api.VisitDeleteApi.as_view(), name="visits-delete"),
    path("visits/current", visits_api.VisitCurrentApi.as_view(), name="visits-current"),
    path(
        "visits/<str:visit_id>/exports/visit_summary",
        visits_api.VisitSummaryExportApi.as_view(),
        name="visit-summary-export",
    ),
    path(
        "visits/<str:visit_id>",
        one_url(
            "VisitApi", get=visits_api.VisitDetailApi, post=scheduling_api.AppointmentUpdateApi
        ).as_view(),
        name="visit-detail",
    ),
    path("webhooks", webhooks_api.WebhookListApi.as_view(), name="webhooks"),
    path("webhooks/<str:endpoint_id>", webhooks_api.WebhookDetailApi.as_view(), name="webhook-detail"),
]
