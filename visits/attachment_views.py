"""Patients' files for staff pages (session auth), and the response that serves a file, API or page."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from clinic import audit
from clinic.errors import NotFound
from visits import attachments
from visits.models import Attachment


def _no_sniff(response: HttpResponse) -> HttpResponse:
    # The stored type was detected from the content; the browser must not guess another.
    response["X-Content-Type-Options"] = "nosniff"
    # Medical files: kept by the browser of the person who fetched them only, and not for long.
    response["Cache-Control"] = "private, max-age=300"
    return response


def file_response(attachment: Attachment) -> FileResponse:
    """The file, streamed: images a browser shows are inline, everything else is a download."""
    try:
        stored = attachment.file.open("rb")
    except FileNotFoundError as exc:  # removed from storage meanwhile: gone, not a server error
        raise Http404("No such file.") from exc
    response = FileResponse(stored, content_type=attachment.content_type)
    response["Content-Disposition"] = content_disposition_header(
        attachment.content_type not in attachments.INLINE_TYPES, attachments.download_name(attachment)
    )
    return _no_sniff(response)


def file_target(attachment: Attachment) -> audit.Target:
    """A file belongs to its intake's patient; one not attached yet, to the patient who uploaded it."""
    if attachment.intake_id:
        member_id = attachment.intake.member_id
    else:
        uploader = attachment.uploaded_by
        member_id = uploader.member.pk if uploader is not None and uploader.is_member else None
    return audit.target(attachment, member_id=member_id)


def _visible_attachment(request, attachment_id) -> Attachment:
    user = request.user
    if user.account_id is None:
        raise Http404("No such file.")
    try:
        return attachments.attachment_get(account=user.account, user=user, attachment_id=attachment_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@require_GET
@login_required
def attachment(request, attachment_id):
    found = _visible_attachment(request, attachment_id)
    response = file_response(found)
    audit.audit_record(request, audit.Action.DOWNLOAD, file_target(found))
    return response


@require_GET
@login_required
def attachment_thumbnail(request, attachment_id):
    found = _visible_attachment(request, attachment_id)
    try:
        data = attachments.attachment_thumbnail(attachment=found)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    audit.audit_record(request, audit.Action.DOWNLOAD, file_target(found), detail="thumbnail")
    return _no_sniff(HttpResponse(data, content_type="image/jpeg"))
