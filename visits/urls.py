from django.urls import path

from visits import attachment_views

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
