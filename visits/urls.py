from django.urls import path

from visits import admin_views, attachment_views, board_views, queue_views, views

app_name = "visits"

urlpatterns = []

# Patients' files, for the provider pages' thumbnails and links (never a public media path).
urlpatterns += [
    path("attachments/<uuid:attachment_id>/", attachment_views.attachment, name="attachment"),
    path(
        "attachments/<uuid:attachment_id>/thumbnail/",
        attachment_views.attachment_thumbnail,
        name="attachment-thumbnail",
    ),
]

# The event stream of the dashboard and the clinic board: which rooms' queues changed (push.streams).
urlpatterns += [path("events/", views.queue_events, name="events")]

# The clinic board (front desk and clinic admins).
urlpatterns += [
    path("board/", board_views.board, name="board"),
    path("board/visits/<int:visit_id>/priority/", board_views.board_priority, name="board-priority"),
    path("board/visits/<int:visit_id>/requeue/", board_views.board_requeue, name="board-requeue"),
]

# The provider dashboard.
urlpatterns += [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/queues/", views.queues, name="queues"),
    path("dashboard/in-progress/", views.in_progress, name="in-progress"),
    path("dashboard/today/", views.today, name="today"),
    path("dashboard/visits/<int:visit_id>/", views.visit_detail, name="detail"),
    path("dashboard/visits/<int:visit_id>/preview/", queue_views.queue_preview, name="queue-preview"),
    path("dashboard/accept/", views.accept, name="accept"),
    path("dashboard/visits/<int:visit_id>/complete/", views.complete, name="complete"),
    path("dashboard/visits/<int:visit_id>/close/", views.close, name="close"),
    path("dashboard/visits/<int:visit_id>/draft/", views.notes_draft, name="notes-draft"),
    path("dashboard/visits/<int:visit_id>/notes/", views.notes_add, name="notes-add"),
    path("dashboard/visits/<int:visit_id>/notes/dismiss/", views.notes_dismiss, name="notes-dismiss"),
]

# The clinic admin's visits page, PDF summaries and bulk exports ("admin/" is Django's admin site).
urlpatterns += [
    path("manage/visits/", admin_views.admin_visits, name="admin-visits"),
    path("manage/visits/downloads/", admin_views.admin_downloads, name="admin-downloads"),
    path("manage/visits/export/", admin_views.admin_export_create, name="admin-export"),
    path(
        "manage/visits/exports/<uuid:export_id>/", admin_views.admin_export_status, name="admin-export-status"
    ),
    path(
        "manage/visits/exports/<uuid:export_id>/download/",
        admin_views.admin_export_download,
        name="admin-export-download",
    ),
    path(
        "manage/visits/<int:visit_id>/summary/",
        admin_views.admin_summary_request,
        name="admin-summary-request",
    ),
    path(
        "manage/visits/<int:visit_id>/summary/status/",
        admin_views.admin_summary_status,
        name="admin-summary-status",
    ),
    path(
        "manage/visits/<int:visit_id>/summary.pdf",
        admin_views.admin_summary_download,
        name="admin-summary-download",
    ),
]
