"""Patients' files (POST /files): upload with checked content, attach to an intake, clean up; who sees them.

Files go through the default storage (any backend, by setting) under a random name; the client's name is
kept for display only, and the type comes from the content, never from that name.
"""

import datetime as dt
import io
import json
import logging
import re
import threading
import uuid
from contextlib import contextmanager

import pillow_heif
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from pypdf import PdfReader

from clinic.errors import InvalidInput, NotFound, ServiceError
from clinic.models import Account, User
from visits.models import Attachment, Intake
from visits.selectors import is_staff_user, sees_clinical_content

logger = logging.getLogger(__name__)

pillow_heif.register_heif_opener()

# Pillow format -> (stored content type, stored extension). Only these decoders ever see an upload.
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "HEIF": ("image/heic", "heic"),
}
PDF_TYPE = ("application/pdf", "pdf")
# Browsers show these inline; HEIC they do not, so it is downloaded (its thumbnail is a JPEG).
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
THUMBNAIL_SIZE = (320, 320)
MAX_IDS_PER_REQUEST = 50

# Magic numbers of programs, so a renamed one is refused with a message that says what it is.
_EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"#!")


class FileTooLarge(ServiceError):
    status_code = 413


def _too_large(size: int | None = None) -> FileTooLarge:
    limit = settings.ATTACHMENT_MAX_BYTES
    got = f" ({size} bytes)" if size is not None else ""
    return FileTooLarge(
        f"The file is too large{got}: at most {limit} bytes.",
        errors={"file": [f"At most {limit} bytes."]},
    )


def _quota_check(*, actor: User, size: int) -> None:
    """Each user's uploads together stay under ATTACHMENT_QUOTA_BYTES (removed files no longer count)."""
    used = Attachment.objects.filter(uploaded_by=actor).aggregate(total=Sum("size"))["total"] or 0
    quota = settings.ATTACHMENT_QUOTA_BYTES
    if used + size > quota:
        raise FileTooLarge(
            f"Your uploads would exceed your storage quota of {quota // (1024 * 1024)} MB "
            f"({used // (1024 * 1024)} MB used).",
            errors={"file": ["Storage quota reached."]},
        )


def upload_size_precheck(*, content_length) -> None:
    """Refuse an oversized upload from its Content-Length, before the body is read at all."""
    try:
        length = int(content_length or 0)
    except (TypeError, ValueError):
        return
    # The multipart envelope (boundaries, headers, the category field) adds a little to the file itself.
    if length > settings.ATTACHMENT_MAX_BYTES + 64 * 1024:
        raise _too_large()


def _display_name(raw: str | None) -> str:
    """The client's file name, kept only to show: no path, no control characters, bounded."""
    name = re.split(r"[\\/]", raw or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    return name[:200] or "attachment"


def download_name(attachment: Attachment) -> str:
    """The display name with the extension of what the file really is."""
    stem = attachment.name.rsplit(".", 1)[0] if "." in attachment.name else attachment.name
    return f"{stem or 'attachment'}.{attachment.ext}"


def _refuse(name: str, why: str) -> InvalidInput:
    return InvalidInput(f"{name} was refused: {why}", errors={"file": [why]})


def _detect(upload: UploadedFile, name: str) -> tuple[tuple[str, str], bytes | None]:
    """(content type, extension) of what the upload really is, and an image's thumbnail; InvalidInput
    saying why if unacceptable."""
    upload.seek(0)
    head = upload.read(1024)
    upload.seek(0)
    if not head:
        raise _refuse(name, "the file is empty.")
    if head.startswith(_EXECUTABLE_MAGIC):
        raise _refuse(name, "its content is an executable program, not an image or a PDF.")
    if b"%PDF-" in head:  # the header may sit anywhere in the first 1024 bytes
        _check_pdf(upload, name)
        detected, thumbnail = PDF_TYPE, None
    else:
        detected, thumbnail = _check_image(upload, name)
    if detected[0] not in settings.ATTACHMENT_TYPES:
        raise _refuse(name, f"files of type {detected[0]} are not accepted.")
    return detected, thumbnail


# Markup a browser would run if it ever read the file as HTML: an HTML/PDF polyglot is refused. (Long
# enough that compressed streams do not match by chance.)
_MARKUP = re.compile(rb"<\s*(?:html|script|iframe|!doctype)\b|javascript:", re.I)
# PDF features that run code or act on their own; a report or a scan needs none of them. An OpenAction
# that is only a destination (open at page 1, fit width: word processors write one) is no action.
_ACTIVE_PDF_KEYS = frozenset(
    {"/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/RichMedia"}
)
# Looked for in the raw bytes too (short keys would match compressed data by chance).
_ACTIVE_RAW = re.compile(rb"/(?:JavaScript|Launch|EmbeddedFiles?|RichMedia)(?![A-Za-z])")


def _check_pdf(upload: UploadedFile, name: str) -> None:
    raw = upload.read()
    upload.seek(0)
    if _MARKUP.search(raw):
        raise _refuse(name, "the PDF also contains web page markup (a disguised HTML file).")
    try:
        reader = PdfReader(upload, strict=False)
        # Many reports are encrypted with an empty open password (only editing is restricted): fine.
        if reader.is_encrypted and not reader.decrypt(""):
            raise _refuse(name, "the PDF is password-protected; staff could not open it.")
        pages = len(reader.pages)
        active = _active_content(reader, raw)
    except InvalidInput:
        raise
    except Exception as exc:  # pypdf raises many kinds on malformed input; any of them means "not a PDF"
        raise _refuse(name, f"it claims to be a PDF but could not be read ({type(exc).__name__}).") from exc
    finally:
        upload.seek(0)
    if pages < 1:
        raise _refuse(name, "the PDF has no pages.")
    if active:
        raise _refuse(name, f"the PDF carries active content ({active}); send a plain document or a scan.")


def _active_content(reader: PdfReader, raw: bytes) -> str:
    """The first active-content key found: in the raw bytes, or in the objects pypdf resolves (which
    covers keys hidden in compressed object streams)."""
    if found := _ACTIVE_RAW.search(raw):
        return found.group().decode().lstrip("/")
    seen: set[int] = set()
    stack = [reader.trailer]
    while stack and len(seen) < 20_000:
        node = stack.pop()
        if hasattr(node, "get_object"):
            node = node.get_object()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "/OpenAction" and isinstance(value.get_object(), list):
                    continue
                if key in _ACTIVE_PDF_KEYS:
                    return key.lstrip("/")
                if key not in ("/Parent", "/P"):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return ""


_truncation_lock = threading.Lock()


@contextmanager
def _truncated_images_refused():
    """WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES on import, which would let a
    truncated upload decode as grey; the check turns it off meanwhile (one check at a time, so the
    saved value is always the original)."""
    with _truncation_lock:
        saved, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _check_image(upload: UploadedFile, name: str) -> tuple[tuple[str, str], bytes]:
    """(content type, extension) of an accepted image, and its thumbnail: decoded once, for both."""
    accepted = ", ".join(sorted({ext.upper() for _, ext in IMAGE_FORMATS.values()}))
    try:
        with _truncated_images_refused():
            image_format, thumbnail = _decode(upload, name)
    except InvalidInput:
        raise
    except UnidentifiedImageError as exc:
        raise _refuse(name, f"its content is not an accepted image ({accepted}) nor a PDF.") from exc
    except Image.DecompressionBombError as exc:
        raise _refuse(name, "the image has too many pixels.") from exc
    except Exception as exc:  # truncated or corrupt data surfaces as OSError, SyntaxError, ValueError...
        raise _refuse(name, f"the image could not be decoded ({type(exc).__name__}).") from exc
    finally:
        upload.seek(0)
    return IMAGE_FORMATS[image_format], thumbnail


def _decode(upload: UploadedFile, name: str) -> tuple[str, bytes]:
    """Check the pixel count from the header, verify the structure, then decode once: the decoded
    pixels prove the image is whole and make its thumbnail. Returns (Pillow format, thumbnail JPEG)."""
    with Image.open(upload, formats=list(IMAGE_FORMATS)) as image:
        image_format, (width, height) = image.format, image.size
        # From the header alone: a small file can declare a huge canvas (a 3 KB lossless WebP of
        # 9400x9400 took 13 s and 1.5 GB to decode).
        if width * height > settings.ATTACHMENT_MAX_PIXELS:
            raise _refuse(
                name,
                f"the image has too many pixels ({width}x{height}); "
                f"at most {settings.ATTACHMENT_MAX_PIXELS // 1_000_000} megapixels.",
            )
        image.verify()
    upload.seek(0)
    with Image.open(upload, formats=[image_format]) as image:
        return image_format, _thumbnail_of(image)


def attachment_upload(*, account: Account, actor: User, upload: UploadedFile, category: str) -> Attachment:
    """Check an uploaded file's size and content, store it under a random name, and record it."""
    if category not in Attachment.Category.values:
        raise InvalidInput.field(
            "category", f"{category!r} is not a file category; use {Attachment.Category.INTAKE_ATTACHMENT}."
        )
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise _too_large(upload.size)
    name = _display_name(upload.name)
    _quota_check(actor=actor, size=upload.size)
    (content_type, ext), thumbnail = _detect(upload, name)
    attachment = Attachment(
        account=account,
        uploaded_by=actor,
        category=category,
        name=name,
        size=upload.size,
        ext=ext,
        content_type=content_type,
    )
    upload.seek(0)
    try:
        # Storage names come from the fields' upload_to (random); the names passed here are ignored.
        attachment.file.save(f"upload.{ext}", upload, save=False)
        if thumbnail is not None:
            attachment.thumbnail.save("thumb.jpg", ContentFile(thumbnail), save=False)
        with transaction.atomic():
            attachment.save()
    except Exception:
        _stored_files_delete(attachment)
        raise
    return attachment


def _thumbnail_of(image: Image.Image) -> bytes:
    """A small JPEG of an opened image (HEIC included, which browsers cannot show). Made once, at
    upload: the pages and PDF summaries then read it, never the original."""
    image.draft("RGB", THUMBNAIL_SIZE)  # JPEG decodes at a reduced scale: less memory
    thumb = ImageOps.exif_transpose(image)
    thumb.thumbnail(THUMBNAIL_SIZE)
    out = io.BytesIO()
    thumb.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def _thumbnail_jpeg(image_file) -> bytes:
    with Image.open(image_file, formats=list(IMAGE_FORMATS)) as image:
        return _thumbnail_of(image)


def _stored_files_delete(attachment: Attachment) -> None:
    """Delete the original and the thumbnail from storage; deleting a missing file is a no-op."""
    for stored in (attachment.file, attachment.thumbnail):
        if stored.name:
            stored.storage.delete(stored.name)


# --- attaching to an intake ----------------------------------------------------------------------------


def _id_items(value) -> list:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):  # a JSON list sent as a form field
            try:
                return _id_items(json.loads(text))
            except ValueError as exc:
                raise InvalidInput.field("attachments", "Not a valid JSON list of file ids.") from exc
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, dict):
        if "id" not in value:
            raise InvalidInput.field("attachments", 'Each object needs an "id".')
        return [str(value["id"]).strip()]
    if isinstance(value, list | tuple):
        return [item for element in value for item in _id_items(element)]
    raise InvalidInput.field("attachments", "Give file ids: a list, a list of {id} objects, or a string.")


_ATTACHMENTS_KEY = re.compile(r"^attachments(\[\d*\])?(\[id\])?$")


def is_attachments_key(key: str) -> bool:
    """`attachments`, and the PHP-style form keys `attachments[]`, `attachments[0][id]`."""
    return bool(_ATTACHMENTS_KEY.match(key))


def attachment_ids_from(data) -> list[str] | None:
    """The file ids a request lists in `attachments`, in any of the contract's formats; None if absent.

    `[{"id": "<uuid>"}]`, `["<uuid>"]`, `"<uuid>,<uuid>"`, and in forms repeated or indexed keys.
    """
    if hasattr(data, "lists"):
        values = [v for key, vs in data.lists() if is_attachments_key(key) for v in vs]
        if not values:
            return None
    elif isinstance(data, dict):
        if "attachments" not in data:
            return None
        values = data["attachments"]
    else:
        return None
    ids = list(dict.fromkeys(_id_items(values)))  # in order, once each
    if len(ids) > MAX_IDS_PER_REQUEST:
        raise InvalidInput.field("attachments", f"At most {MAX_IDS_PER_REQUEST} files at once.")
    return ids


def _attachable_by(*, account: Account, actor: User) -> QuerySet[Attachment]:
    files = Attachment.objects.for_account(account)
    # Front desk and admins attach on a patient's behalf; everyone else only what they uploaded.
    return files if is_staff_user(actor) else files.filter(uploaded_by=actor)


def attachments_attach(*, account: Account, actor: User, intake: Intake, attachment_ids: list[str]) -> None:
    """Attach files to the intake, all or none: an unknown, foreign or taken id refuses the whole list.

    Call it inside the transaction that writes the intake, so a refusal leaves the intake unwritten too.
    The list adds files; attachments already on the intake stay.
    """
    wanted: dict[uuid.UUID, str] = {}
    for raw in attachment_ids:
        try:
            wanted[uuid.UUID(raw)] = raw
        except ValueError as exc:
            raise InvalidInput.field("attachments", f"{raw[:64]!r} is not a file id.") from exc
    with transaction.atomic():
        # Locked (in id order, so two requests never deadlock): the clean-up task skips locked rows,
        # so a file being attached is never removed under us.
        rows = _attachable_by(account=account, actor=actor).select_for_update().filter(pk__in=wanted)
        found = {a.pk: a for a in rows.order_by("pk")}
        unknown = [raw for pk, raw in wanted.items() if pk not in found]
        if unknown:
            raise InvalidInput(
                f"attachments: no such file: {', '.join(unknown)}.",
                errors={"attachments": [f"No such file: {raw}." for raw in unknown]},
            )
        taken = [wanted[pk] for pk, a in found.items() if a.intake_id not in (None, intake.pk)]
        if taken:
            raise InvalidInput(
                f"attachments: already attached to another intake: {', '.join(taken)}.",
                errors={"attachments": [f"Already attached to another intake: {raw}." for raw in taken]},
            )
        new = [pk for pk, a in found.items() if a.intake_id is None]
        if new:
            Attachment.objects.filter(pk__in=new).update(intake=intake, attached=timezone.now())


# --- clean-up ---------------------------------------------------------------------------------------------


def orphaned_attachments(*, now: dt.datetime) -> QuerySet[Attachment]:
    """Files with no intake: their intake was deleted, or they were never attached within the grace time."""
    cutoff = now - dt.timedelta(seconds=settings.ATTACHMENT_UNATTACHED_TTL)
    return Attachment.objects.filter(intake__isnull=True).filter(
        Q(attached__isnull=False) | Q(created__lt=cutoff)
    )


def attachments_cleanup(*, now: dt.datetime | None = None, batch_size: int = 200) -> int:
    """Remove orphaned files, storage first, then the row. Idempotent; returns how many were removed."""
    now = now or timezone.now()
    removed = 0
    while True:
        with transaction.atomic():
            # skip_locked: a row an attach holds is left alone (and then it is attached, not an orphan).
            batch = list(
                orphaned_attachments(now=now)
                .select_for_update(skip_locked=True)
                .order_by("created")[:batch_size]
            )
            for attachment in batch:
                # Deleting a missing file is a no-op, so a retry after a failure here finishes the job.
                _stored_files_delete(attachment)
            Attachment.objects.filter(pk__in=[a.pk for a in batch]).delete()
        removed += len(batch)
        if len(batch) < batch_size:
            break
    if removed:
        logger.info("Removed %d orphaned attachment(s).", removed)
    return removed


# --- reading ----------------------------------------------------------------------------------------------


def attachments_visible_to(*, account: Account, user: User) -> QuerySet[Attachment]:
    """Clinic admins see all the account's files; the uploader theirs; providers those of their rooms'
    intakes (or intakes naming them); a patient those on their own intakes. The front desk sees
    none but their own uploads: files are clinical content (visits.selectors.sees_clinical_content)."""
    files = Attachment.objects.for_account(account)
    if is_staff_user(user) and sees_clinical_content(user):
        return files
    visible = Q(uploaded_by=user)
    if user.is_provider:
        provider = user.provider
        visible |= Q(intake__room__in=provider.rooms.all()) | Q(intake__provider=provider)
    if user.is_member:
        visible |= Q(intake__member=user.member)
    return files.filter(visible)


def attachment_get(*, account: Account, user: User, attachment_id) -> Attachment:
    try:
        pk = uuid.UUID(str(attachment_id))
    except ValueError:
        pk = None
    attachment = attachments_visible_to(account=account, user=user).filter(pk=pk).first() if pk else None
    if attachment is None:
        raise NotFound(f"File {attachment_id} not found.", errors={"id": ["No such file."]})
    return attachment


def attachment_thumbnail(*, attachment: Attachment) -> bytes:
    """The stored small JPEG of an image attachment. One uploaded before thumbnails were stored, or whose
    thumbnail is missing from storage, gets it built from the original now, stored and recorded."""
    if not attachment.content_type.startswith("image/"):
        raise NotFound("Only images have thumbnails.")
    if attachment.thumbnail:
        try:
            with attachment.thumbnail.open("rb") as stored:
                return stored.read()
        except FileNotFoundError:
            pass  # removed from storage: built again below
    try:
        with attachment.file.open("rb") as original:
            data = _thumbnail_jpeg(original)
    except FileNotFoundError as exc:  # the original is gone too: nothing to show, not a server error
        raise NotFound("The file is no longer stored.") from exc
    missing = attachment.thumbnail.name or ""
    attachment.thumbnail.save("thumb.jpg", ContentFile(data), save=False)
    # Only the thumbnail column, and only if no one recorded another meanwhile (a request building the
    # same one, or the clean-up removing the row): then ours is surplus and leaves storage again.
    recorded = Attachment.objects.filter(pk=attachment.pk, thumbnail=missing).update(
        thumbnail=attachment.thumbnail.name
    )
    if not recorded:
        attachment.thumbnail.storage.delete(attachment.thumbnail.name)
        attachment.thumbnail.name = missing
    return data
