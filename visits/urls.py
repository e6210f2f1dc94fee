from django.urls import path

from visits import attachment_views, views

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

# The provider dashboard.
urlpatterns += [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/queues/", views.queues, name="queues"),
    path("dashboard/in-progress/", views.in_progress, name="in-progress"),
    path("dashboard/today/", views.today, name="today"),
    path("dashboard/visits/<int:visit_id>/", views.visit_detail, name="detail"),
    path("dashboard/visits/<int:visit_id>/accept/", views.accept, name="accept"),
    path("dashboard/visits/<int:visit_id>/complete/", views.complete, name="complete"),
    path("dashboard/visits/<int:visit_id>/close/", views.close, name="close"),
]
