from django.urls import path

from clinic import api as clinic_api
from clinic.api_base import one_url
from scheduling import api as scheduling_api
from visits import api as visits_api

urlpatterns = [
    path("users/sso", clinic_api.UserSsoApi.as_view(), name="users-sso"),
    path("users/login", clinic_api.UserLoginApi.as_view(), name="users-login"),
    path("users/token/refresh", clinic_api.TokenRefreshApi.as_view(), name="users-token-refresh"),
    path("rooms", clinic_api.RoomListApi.as_view(), name="rooms"),
    path("rooms/<str:room_code>", clinic_api.RoomDetailApi.as_view(), name="room-detail"),
    path("intakes", visits_api.IntakeCreateApi.as_view(), name="intakes"),
    path("intakes/<str:intake_id>", visits_api.IntakeDetailApi.as_view(), name="intake-detail"),
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
]
