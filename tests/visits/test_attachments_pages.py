"""Attachments on the staff pages: the session-auth file route, thumbnails, and the two include templates."""

import io
import re
from html import unescape
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.urls import reverse
from PIL import Image

from tests.clinic.factories import AccountFactory, ProviderFactory, RoomFactory, clinic_admin_user
from tests.visits.attachment_factories import image_bytes, pdf_bytes, stored_attachment
from tests.visits.factories import IntakeFactory, VisitFactory
from visits.models import Attachment, Visit


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def intake(account, room, member):
    return IntakeFactory(account=account, room=room, member=member)


@pytest.fixture
def photo(member, intake):
    return stored_attachment(
        user=member.user, intake=intake, name="rash.jpg", data=image_bytes("JPEG", (800, 600))
    )


@pytest.fixture
def pdf(member, intake):
    return stored_attachment(user=member.user, intake=intake, name="labs.pdf", data=pdf_bytes())


# --- the route -------------------------------------------------------------------------------------------


def test_a_provider_of_the_room_opens_an_image_inline(client, provider, photo):
    client.force_login(provider.user)

    response = client.get(reverse("visits:attachment", args=[photo.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == image_bytes("JPEG", (800, 600))
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == 'inline; filename="rash.jpg"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_pdf_downloads(client, provider, pdf):
    client.force_login(provider.user)

    response = client.get(reverse("visits:attachment", args=[pdf.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="labs.pdf"'


@pytest.mark.parametrize("who", ["provider of another room", "admin of another account"])
def test_others_get_404(client, account, photo, who):
    if who == "provider of another room":
        user = ProviderFactory(account=account, rooms=[RoomFactory(account=account)]).user
    else:
        user = clinic_admin_user(AccountFactory(code="other"))
    client.force_login(user)

    assert client.get(reverse("visits:attachment", args=[photo.pk])).status_code == 404
    assert client.get(reverse("visits:attachment-thumbnail", args=[photo.pk])).status_code == 404


def test_anonymous_is_sent_to_log_in(client, photo):
    response = client.get(reverse("visits:attachment", args=[photo.pk]))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_thumbnail_is_a_small_jpeg(client, provider, photo):
    client.force_login(provider.user)

    response = client.get(reverse("visits:attachment-thumbnail", args=[photo.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    thumb = Image.open(io.BytesIO(response.content))
    assert thumb.format == "JPEG" and max(thumb.size) <= 320


def test_a_heic_photo_gets_a_jpeg_thumbnail_and_downloads_in_full(client, provider, member, intake):
    heic = stored_attachment(user=member.user, intake=intake, name="IMG_1.HEIC", data=image_bytes("HEIF"))
    client.force_login(provider.user)

    thumb = client.get(reverse("visits:attachment-thumbnail", args=[heic.pk]))
    full = client.get(reverse("visits:attachment", args=[heic.pk]))

    assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"
    assert full["Content-Type"] == "image/heic"
    assert full["Content-Disposition"].startswith("attachment;")  # browsers cannot show HEIC inline


def test_a_pdf_has_no_thumbnail(client, provider, pdf):
    client.force_login(provider.user)

    assert client.get(reverse("visits:attachment-thumbnail", args=[pdf.pk])).status_code == 404
    assert Attachment.objects.get(pk=pdf.pk).thumbnail.name == ""


def test_the_thumbnail_is_the_stored_one_even_with_the_original_gone(client, provider, photo):
    """Served from storage as stored at upload: the original is not decoded again."""
    with default_storage.open(photo.thumbnail.name) as stored:
        stored_thumbnail = stored.read()
    default_storage.delete(photo.file.name)
    client.force_login(provider.user)

    response = client.get(reverse("visits:attachment-thumbnail", args=[photo.pk]))

    assert response.status_code == 200 and response.content == stored_thumbnail


@pytest.mark.parametrize("why", ["uploaded before thumbnails were stored", "thumbnail gone from storage"])
def test_an_image_without_a_stored_thumbnail_gets_one_on_first_request(client, provider, photo, why):
    default_storage.delete(photo.thumbnail.name)
    if why == "uploaded before thumbnails were stored":
        Attachment.objects.filter(pk=photo.pk).update(thumbnail="")
    client.force_login(provider.user)

    first = client.get(reverse("visits:attachment-thumbnail", args=[photo.pk]))

    assert first.status_code == 200
    assert Image.open(io.BytesIO(first.content)).size == (320, 240)
    recorded = Attachment.objects.get(pk=photo.pk).thumbnail.name
    assert recorded.endswith("-thumb.jpg") and recorded != photo.thumbnail.name
    with default_storage.open(recorded) as stored:
        assert stored.read() == first.content
    # Built once: later requests read the stored one, with no original to decode.
    default_storage.delete(photo.file.name)
    assert client.get(reverse("visits:attachment-thumbnail", args=[photo.pk])).content == first.content


def test_an_image_gone_from_storage_altogether_has_no_thumbnail(client, provider, photo):
    default_storage.delete(photo.thumbnail.name)
    default_storage.delete(photo.file.name)
    client.force_login(provider.user)

    assert client.get(reverse("visits:attachment-thumbnail", args=[photo.pk])).status_code == 404


# --- the include templates ---------------------------------------------------------------------------------


def test_gallery_has_thumbnails_for_images_and_links_for_pdfs(photo, pdf, intake):
    html = render_to_string("visits/_attachment_gallery.html", {"intake": intake})

    thumb = reverse("visits:attachment-thumbnail", args=[photo.pk])
    assert f'<img src="{thumb}" alt="rash.jpg"' in html
    assert f'href="{reverse("visits:attachment", args=[photo.pk])}"' in html
    assert f'href="{reverse("visits:attachment", args=[pdf.pk])}"' in html and "labs.pdf" in html
    assert reverse("visits:attachment-thumbnail", args=[pdf.pk]) not in html


def test_gallery_escapes_the_clients_file_name(member, intake):
    stored_attachment(
        user=member.user, intake=intake, name="<img src=x onerror=alert(1)>.pdf", data=pdf_bytes()
    )

    html = render_to_string("visits/_attachment_gallery.html", {"intake": intake})

    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.pdf" in html


def test_the_gallery_costs_no_query_per_row(account, room, member, django_assert_num_queries):
    visits = [
        VisitFactory(account=account, room=room, intake__member=member, member=member) for _ in range(3)
    ]
    for visit in visits:
        stored_attachment(user=member.user, intake=visit.intake)
        stored_attachment(user=member.user, intake=visit.intake, name="labs.pdf", data=pdf_bytes())
    rows = list(Visit.objects.for_account(account).with_related())

    with django_assert_num_queries(0):
        for visit in rows:
            gallery = render_to_string("visits/_attachment_gallery.html", {"intake": visit.intake})
            assert "labs.pdf" in gallery


# --- on the provider's pages ------------------------------------------------------------------------------


@pytest.fixture
def queued(account, room, member, intake):
    visit = VisitFactory(account=account, room=room, intake=intake, member=member)
    stored_attachment(user=member.user, intake=intake, name="rash.jpg", data=image_bytes("JPEG"))
    stored_attachment(user=member.user, intake=intake, name="labs.pdf", data=pdf_bytes())
    return visit


def test_the_queue_row_shows_a_paperclip_with_the_count(client, provider, queued):
    client.force_login(provider.user)

    html = client.get(reverse("visits:dashboard")).content.decode()

    row = html[html.index(f'id="visit-{queued.pk}"') :]
    text = unescape(re.sub(r"<[^>]+>", "", row[: row.index("</li>")]))
    assert "\U0001f4ce 2" in text


def test_the_visit_page_shows_thumbnails_and_pdf_links(client, provider, queued):
    client.force_login(provider.user)
    photo, pdf = queued.intake.attachments.all()

    html = client.get(reverse("visits:detail", args=[queued.pk])).content.decode()

    assert f'src="{reverse("visits:attachment-thumbnail", args=[photo.pk])}"' in html
    assert f'href="{reverse("visits:attachment", args=[pdf.pk])}"' in html and "labs.pdf" in html


@pytest.mark.browser
def test_a_provider_sees_the_thumbnail_render_in_the_browser(staff_page, provider, queued):
    page = staff_page(provider.user)
    page.goto(reverse("visits:detail", args=[queued.pk]))

    thumbnail = page.locator(".attachment-gallery img")
    thumbnail.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert page.locator(".attachment-gallery a", has_text="labs.pdf").count() == 1
