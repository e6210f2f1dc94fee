"""Uploads that cost the server or endanger staff: huge canvases in tiny files, quotas, active PDFs."""

import io

import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

from tests.visits.attachment_factories import image_bytes, pdf_bytes, upload
from visits.models import Attachment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _post(api, name, data):
    return api.post("files", {"file": upload(name, data)}, format="multipart")


def _webp_declaring(width: int, height: int) -> bytes:
    """A few-hundred-byte lossless WebP whose header declares width x height (the 3 KB 9400x9400 file
    of the review): the VP8L header's 14-bit fields are rewritten."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 120, 200)).save(out, "WEBP", lossless=True)
    data = bytearray(out.getvalue())
    at = data.index(b"VP8L") + 8
    assert data[at] == 0x2F
    bits = int.from_bytes(data[at + 1 : at + 5], "little")
    bits = (bits & ~0x0FFFFFFF) | (width - 1) | ((height - 1) << 14)
    data[at + 1 : at + 5] = bits.to_bytes(4, "little")
    return bytes(data)


def test_a_tiny_file_declaring_a_huge_canvas_is_refused_before_decoding(monkeypatch, member_api):
    bomb = _webp_declaring(9400, 9400)
    assert len(bomb) < 3000
    with Image.open(io.BytesIO(bomb)) as probe:
        assert probe.size == (9400, 9400)

    def never(*args, **kwargs):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(Image.Image, "load", never)
    monkeypatch.setattr(Image.Image, "verify", never)
    response = _post(member_api, "photo.webp", bomb)
    assert response.status_code == 400
    assert "too many pixels (9400x9400)" in response.json()["message"]
    assert not Attachment.objects.exists()


def test_an_image_is_decoded_once_for_its_check_and_thumbnail(monkeypatch, member_api):
    opened = []
    real_open = Image.open

    def counting_open(*args, **kwargs):
        opened.append(1)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    assert _post(member_api, "rash.png", image_bytes("PNG", size=(400, 300))).status_code == 201
    assert len(opened) == 2  # the header and structure, then the one decode that also makes the thumbnail


def test_each_user_has_a_storage_quota(settings, member_api):
    data = image_bytes("PNG", size=(200, 200), noise=True)
    settings.ATTACHMENT_QUOTA_BYTES = len(data) * 2
    assert _post(member_api, "a.png", data).status_code == 201
    assert _post(member_api, "b.png", data).status_code == 201
    over = _post(member_api, "c.png", data)
    assert over.status_code == 413
    assert "quota" in over.json()["message"]
    assert Attachment.objects.count() == 2


def _pdf_with(root_entries: dict) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    for key, value in root_entries.items():
        writer._root_object[NameObject(key)] = value
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _js_action() -> DictionaryObject:
    return DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert(1)")}
    )


@pytest.mark.parametrize(
    "pdf",
    [
        pytest.param(lambda: _pdf_with({"/OpenAction": _js_action()}), id="open-action-javascript"),
        pytest.param(
            lambda: _pdf_with({"/OpenAction": DictionaryObject({NameObject("/S"): NameObject("/Launch")})}),
            id="open-action-launch",
        ),
        pytest.param(lambda: b"<html><script>alert(1)</script></html>\n" + pdf_bytes(), id="html-polyglot"),
    ],
)
def test_active_or_disguised_pdfs_are_refused(member_api, pdf):
    response = _post(member_api, "labs.pdf", pdf())
    assert response.status_code == 400, response.json()
    assert not Attachment.objects.exists()


def test_a_plain_pdf_that_opens_at_its_first_page_is_accepted(member_api):
    writer = PdfWriter()
    page = writer.add_blank_page(width=200, height=200)
    writer._root_object[NameObject("/OpenAction")] = ArrayObject(
        [page.indirect_reference, NameObject("/Fit")]
    )
    out = io.BytesIO()
    writer.write(out)
    assert _post(member_api, "labs.pdf", out.getvalue()).status_code == 201
