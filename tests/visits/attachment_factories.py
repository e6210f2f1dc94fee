"""Real files for attachment tests: small images of each accepted format, a PDF, and stored attachments."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfWriter

from visits.attachments import attachment_upload, attachments_attach

ELF_HEADER = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120


def image_bytes(fmt: str = "PNG", size=(40, 30), noise: bool = False) -> bytes:
    image = Image.effect_noise(size, 80).convert("RGB") if noise else Image.new("RGB", size, (200, 40, 40))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def pdf_bytes(open_password: str | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if open_password is not None:
        writer.encrypt(user_password=open_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_attachment(*, user, intake=None, name="rash.png", data: bytes | None = None):
    """An attachment uploaded by `user` through the service, attached to `intake` when given."""
    attachment = attachment_upload(
        account=user.account,
        actor=user,
        upload=upload(name, data if data is not None else image_bytes()),
        category="intake_attachment",
    )
    if intake is not None:
        attachments_attach(
            account=user.account, actor=user, intake=intake, attachment_ids=[str(attachment.pk)]
        )
        attachment.refresh_from_db()
    return attachment
