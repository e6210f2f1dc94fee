"""POST /files, GET /files/:id, and `attachments` on POST /intakes and POST /intakes/:id."""

import io
import json
import uuid
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image, ImageFile

from tests.clinic.factories import (
    AccountFactory,
    MemberFactory,
    ProviderFactory,
    RoomFactory,
    clinic_admin_user,
)
from tests.conftest import client_for
from tests.visits.attachment_factories import (
    ELF_HEADER,
    image_bytes,
    pdf_bytes,
    stored_attachment,
    upload,
)
from tests.visits.factories import IntakeFactory, VisitFactory
from visits.attachments import attachment_upload
from visits.models import Attachment, Intake


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media_root: Path) -> list[Path]:
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def post_file(api, name, data, **extra):
    return api.post("files", {"file": upload(name, data), **extra}, format="multipart")


# --- POST /files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type", "ext"),
    [
        ("rash.jpg", image_bytes("JPEG"), "image/jpeg", "jpg"),
        ("rash.png", image_bytes("PNG"), "image/png", "png"),
        ("rash.webp", image_bytes("WEBP"), "image/webp", "webp"),
        ("IMG_0001.HEIC", image_bytes("HEIF"), "image/heic", "heic"),
        ("labs.pdf", pdf_bytes(), "application/pdf", "pdf"),
    ],
)
def test_upload_accepts_each_type_and_stores_it_under_a_random_name(
    member, member_api, media_root, name, data, content_type, ext
):
    response = post_file(member_api, name, data, category="intake_attachment")

    assert response.status_code == 201, response.json()
    body = response.json()["data"]
    assert body["name"] == name
    assert (body["type"], body["ext"], body["size"]) == (content_type, ext, len(data))
    assert isinstance(body["created"], int)
    attachment = Attachment.objects.get(pk=body["id"])
    assert attachment.uploaded_by == member.user and attachment.intake is None
    stored = media_root / attachment.file.name
    assert stored.read_bytes() == data
    assert name.split(".")[0] not in str(stored.relative_to(media_root))
    # The original and, for images only, its thumbnail: nothing else.
    expected = {stored} | ({media_root / attachment.thumbnail.name} if ext != "pdf" else set())
    assert set(stored_files(media_root)) == expected


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("rash.jpg", image_bytes("JPEG", (1200, 900))),
        ("rash.png", image_bytes("PNG", (900, 1200))),
        ("rash.webp", image_bytes("WEBP", (1000, 400))),
        ("IMG_0001.HEIC", image_bytes("HEIF", (800, 600))),
    ],
)
def test_an_image_upload_stores_a_small_jpeg_thumbnail_beside_the_original(member, member_api, name, data):
    response = post_file(member_api, name, data)

    assert response.status_code == 201
    attachment = Attachment.objects.get(pk=response.json()["data"]["id"])
    thumbnail = attachment.thumbnail.name
    assert thumbnail.startswith(f"attachments/{member.account_id}/") and thumbnail.endswith("-thumb.jpg")
    assert thumbnail != attachment.file.name and default_storage.exists(thumbnail)
    with default_storage.open(thumbnail) as stored:
        image = Image.open(io.BytesIO(stored.read()))
    assert image.format == "JPEG" and max(image.size) == 320


def test_a_pdf_upload_has_no_thumbnail(member_api, media_root):
    response = post_file(member_api, "labs.pdf", pdf_bytes())

    assert response.status_code == 201
    attachment = Attachment.objects.get(pk=response.json()["data"]["id"])
    assert attachment.thumbnail.name == ""
    assert stored_files(media_root) == [media_root / attachment.file.name]


def test_a_failed_insert_leaves_neither_the_original_nor_the_thumbnail_in_storage(
    monkeypatch, member, media_root
):
    def insert_fails(self, *args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Attachment, "save", insert_fails)

    with pytest.raises(RuntimeError):
        attachment_upload(
            account=member.account,
            actor=member.user,
            upload=upload("rash.jpg", image_bytes("JPEG", (800, 600))),
            category="intake_attachment",
        )

    assert stored_files(media_root) == []


def test_type_comes_from_the_content_not_the_name(member_api):
    response = post_file(
        member_api, "photo.jpg", image_bytes("PNG"), **{"meta[category]": "intake_attachment"}
    )

    assert response.status_code == 201
    assert response.json()["data"] | {"id": None, "created": None} == {
        "id": None,
        "created": None,
        "name": "photo.jpg",
        "size": len(image_bytes("PNG")),
        "ext": "png",
        "type": "image/png",
    }


def test_a_path_in_the_client_name_is_dropped(member_api, media_root):
    response = post_file(member_api, "../../etc/passwd.png", image_bytes("PNG"))

    assert response.status_code == 201
    assert response.json()["data"]["name"] == "passwd.png"
    assert all(media_root in p.parents for p in stored_files(media_root))


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("photo.jpg", ELF_HEADER, "executable program"),
        ("photo.jpg", b"MZ\x90\x00" + b"\x00" * 200, "executable program"),
        ("photo.jpg", b"Just some text, honestly a photo.\n" * 10, "not an accepted image"),
        ("scan.png", image_bytes("PNG")[:60], "could not be decoded"),
        ("scan.jpg", image_bytes("JPEG", (300, 300), noise=True)[:4000], "could not be decoded"),
        ("scan.heic", image_bytes("HEIF", (300, 300), noise=True)[:2000], "could not be decoded"),
        ("labs.pdf", b"%PDF-1.7\n this is not really a PDF\n", "could not be read"),
        ("anim.gif", image_bytes("GIF"), "not an accepted image"),
        ("empty.jpg", b"", "empty"),
        ("locked.pdf", pdf_bytes(open_password="secret"), "password-protected"),
    ],
)
def test_content_that_is_not_an_accepted_image_or_pdf_is_refused_saying_why(
    member_api, media_root, name, data, why
):
    response = post_file(member_api, name, data)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 400 and why in body["message"] and name in body["message"]
    assert why in body["errors"]["file"][0]
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("bound", [500, 1199])
def test_an_image_with_too_many_pixels_is_refused(settings, member_api, bound):
    settings.ATTACHMENT_MAX_PIXELS = bound  # the image has 1200

    response = post_file(member_api, "bomb.png", image_bytes("PNG", size=(40, 30)))

    assert response.status_code == 400 and "too many pixels" in response.json()["message"]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "HEIF"])
def test_a_truncated_image_is_refused_even_where_weasyprint_allows_them(monkeypatch, member_api, fmt):
    # WeasyPrint sets this process-wide on import: the web process has it on.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = image_bytes(fmt, (300, 300), noise=True)

    response = post_file(member_api, "cut.img", data[: len(data) // 2])

    assert response.status_code == 400 and "could not be decoded" in response.json()["message"]
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # left as it was for WeasyPrint


def test_a_pdf_that_opens_without_a_password_is_accepted_though_encrypted(member_api):
    response = post_file(member_api, "labs.pdf", pdf_bytes(open_password=""))

    assert response.status_code == 201 and response.json()["data"]["type"] == "application/pdf"


def test_a_type_left_out_of_the_setting_is_refused(settings, member_api):
    settings.ATTACHMENT_TYPES = ["application/pdf"]

    response = post_file(member_api, "rash.png", image_bytes("PNG"))

    assert response.status_code == 400
    assert "image/png are not accepted" in response.json()["message"]


def test_past_the_size_bound_is_413(settings, member_api, media_root):
    settings.ATTACHMENT_MAX_BYTES = 1000
    data = image_bytes("PNG", size=(64, 64), noise=True)
    assert len(data) > 1000

    response = post_file(member_api, "big.png", data)

    assert response.status_code == 413
    assert response.json()["code"] == 413 and "at most 1000 bytes" in response.json()["message"]
    assert not Attachment.objects.exists() and stored_files(media_root) == []


def test_a_body_far_past_the_bound_is_refused_from_its_length(settings, member_api):
    settings.ATTACHMENT_MAX_BYTES = 1000

    response = post_file(member_api, "huge.png", image_bytes("PNG", size=(400, 400), noise=True))

    assert response.status_code == 413
    assert not Attachment.objects.exists()


def test_upload_needs_a_file_and_a_known_category(member_api):
    assert post_file(member_api, "rash.png", image_bytes(), category="selfie").status_code == 400
    response = member_api.post("files", {"category": "intake_attachment"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["errors"]


def test_upload_needs_a_user_token(account):
    from tests.conftest import V3Client

    response = post_file(V3Client(account.code), "rash.png", image_bytes())
    assert response.status_code == 401


# --- attachments on intakes -------------------------------------------------------------------------


def _uploaded(api, n=2) -> list[str]:
    return [post_file(api, f"photo{i}.png", image_bytes()).json()["data"]["id"] for i in range(n)]


@pytest.mark.parametrize(
    ("fmt", "shape"),
    [
        ("json", lambda ids: [{"id": i} for i in ids]),
        ("json", lambda ids: ids),
        ("json", lambda ids: ",".join(ids)),
        ("multipart", lambda ids: ", ".join(ids)),
        ("multipart", lambda ids: ids),  # a repeated form key
        ("multipart", lambda ids: json.dumps([{"id": i} for i in ids])),
    ],
    ids=["json-objects", "json-ids", "json-string", "form-string", "form-repeated", "form-json"],
)
def test_intake_create_takes_attachments_in_each_format(room, member_api, fmt, shape):
    ids = _uploaded(member_api)

    response = member_api.post(
        "intakes", {"room_code": room.code, "reason_for_visit": "Rash", "attachments": shape(ids)}, format=fmt
    )

    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    assert [a["id"] for a in data["attachments"]] == ids
    assert data["attachments"][0]["type"] == "image/png"
    assert "attachments" not in (Intake.objects.get(pk=data["id"]).custom or {})
    read = member_api.get(f"intakes/{data['id']}").json()["data"]
    assert [a["id"] for a in read["attachments"]] == ids
    assert Attachment.objects.filter(intake_id=data["id"], attached__isnull=False).count() == 2


def test_indexed_form_keys_are_attachments_not_custom_fields(room, member_api):
    ids = _uploaded(member_api)
    form = {"room_code": room.code, "attachments[0][id]": ids[0], "attachments[1][id]": ids[1]}

    data = member_api.post("intakes", form, format="multipart").json()["data"]

    assert [a["id"] for a in data["attachments"]] == ids
    assert not any(key.startswith("attachments[") for key in data)


def test_intake_update_adds_attachments(room, member, member_api):
    intake = IntakeFactory(account=member.account, room=room, member=member)
    first = stored_attachment(user=member.user, intake=intake)
    [new] = _uploaded(member_api, 1)

    response = member_api.post(f"intakes/{intake.pk}", {"attachments": [new]})

    assert response.status_code == 200, response.json()
    assert [a["id"] for a in response.json()["data"]["attachments"]] == [str(first.pk), new]


def test_an_unknown_id_refuses_the_whole_create(room, member_api):
    [mine] = _uploaded(member_api, 1)
    missing = str(uuid.uuid4())

    response = member_api.post(
        "intakes", {"room_code": room.code, "reason_for_visit": "Rash", "attachments": [mine, missing]}
    )

    assert response.status_code == 400
    assert missing in response.json()["message"] and missing in response.json()["errors"]["attachments"][0]
    assert mine not in response.json()["message"]
    assert not Intake.objects.exists()
    assert Attachment.objects.get(pk=mine).intake is None


def test_a_malformed_id_is_named(room, member_api):
    response = member_api.post("intakes", {"room_code": room.code, "attachments": "not-a-uuid"})

    assert response.status_code == 400 and "not-a-uuid" in response.json()["message"]
    assert not Intake.objects.exists()


def test_another_accounts_file_is_refused_by_id_and_nothing_changes(room, member, member_api):
    other = AccountFactory(code="other")
    foreign = stored_attachment(user=clinic_admin_user(other))
    intake = IntakeFactory(account=member.account, room=room, member=member, reason_for_visit="Rash")
    [mine] = _uploaded(member_api, 1)

    response = member_api.post(
        f"intakes/{intake.pk}", {"reason_for_visit": "Changed", "attachments": [mine, str(foreign.pk)]}
    )

    assert response.status_code == 400
    assert str(foreign.pk) in response.json()["message"]
    intake.refresh_from_db()
    assert intake.reason_for_visit == "Rash"
    assert not intake.attachments.exists()
    foreign.refresh_from_db()
    assert foreign.intake is None and foreign.account == other


def test_a_member_cannot_attach_another_patients_file(room, account, member_api):
    someone = MemberFactory(account=account)
    theirs = stored_attachment(user=someone.user)

    response = member_api.post("intakes", {"room_code": room.code, "attachments": [str(theirs.pk)]})

    assert response.status_code == 400 and str(theirs.pk) in response.json()["message"]
    assert not Intake.objects.exists()


def test_a_file_on_another_intake_is_not_moved(room, member, member_api):
    first = IntakeFactory(account=member.account, room=room, member=member)
    second = IntakeFactory(account=member.account, room=room, member=member)
    attached = stored_attachment(user=member.user, intake=first)

    response = member_api.post(f"intakes/{second.pk}", {"attachments": [str(attached.pk)]})

    assert response.status_code == 400 and "another intake" in response.json()["message"]
    attached.refresh_from_db()
    assert attached.intake == first


def test_front_desk_attaches_a_patients_file_on_their_behalf(room, member, member_api, front_desk_api):
    [theirs] = _uploaded(member_api, 1)

    response = front_desk_api.post(
        "intakes", {"room_code": room.code, "member_id": member.code, "attachments": theirs}
    )

    assert response.status_code == 201, response.json()
    intake = Intake.objects.get(pk=response.json()["data"]["id"])
    assert [str(a.pk) for a in intake.attachments.all()] == [theirs]
    # Files are clinical content: the front desk hands them on without reading them.
    assert response.json()["data"]["attachments"] == []
    assert front_desk_api.get(f"files/{theirs}").status_code == 404


def test_the_visit_object_lists_its_intakes_attachments(account, room, member, member_api):
    visit = VisitFactory(account=account, room=room, intake__member=member, member=member)
    attachment = stored_attachment(user=member.user, intake=visit.intake)

    data = member_api.get(f"visits/{visit.pk}").json()["data"]

    assert [a["id"] for a in data["intake"]["attachments"]] == [str(attachment.pk)]
    assert data["intake"]["attachments"][0]["name"] == "rash.png"


def _queries(request) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert request().status_code == 200
    return len(captured.captured_queries)


def test_reading_intakes_and_visits_does_not_query_per_attachment(
    account, room, member, member_api, settings
):
    settings.AUDIT_LIST_REPEAT_SECONDS = 0  # each list records its rows: the same insert each time
    visits = [
        VisitFactory(account=account, room=room, intake__member=member, member=member) for _ in range(3)
    ]
    for visit in visits:
        stored_attachment(user=member.user, intake=visit.intake)
    read_intake = lambda: member_api.get(f"intakes/{visits[0].intake_id}")  # noqa: E731
    list_visits = lambda: member_api.get("visits")  # noqa: E731
    with_one = (_queries(read_intake), _queries(list_visits))

    for visit in visits:
        for _ in range(3):
            stored_attachment(user=member.user, intake=visit.intake)

    assert len(read_intake().json()["data"]["attachments"]) == 4
    assert sum(len(v["intake"]["attachments"]) for v in list_visits().json()["data"]) == 12
    assert (_queries(read_intake), _queries(list_visits)) == with_one


# --- GET /files/:id ------------------------------------------------------------------------------------


@pytest.fixture
def attached(account, room, member):
    intake = IntakeFactory(account=account, room=room, member=member)
    return stored_attachment(user=member.user, intake=intake, name="rash photo.png")


def test_the_uploader_gets_the_file_inline_with_safe_headers(member_api, attached):
    response = member_api.get(f"files/{attached.pk}")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == image_bytes()
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="rash photo.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "private" in response["Cache-Control"]


def test_a_pdf_is_a_download_named_for_what_it_is(room, member, member_api):
    intake = IntakeFactory(account=member.account, room=room, member=member)
    pdf = stored_attachment(user=member.user, intake=intake, name='labs"; evil.exe', data=pdf_bytes())

    response = member_api.get(f"files/{pdf.pk}.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.pdf"')
    assert '\\"' in disposition  # the quote in the client's name is escaped, not a header break


def _reader(role, account, room):
    """The API client of a user in `role`, relative to the attachment's intake in `room`."""
    if role == "provider of the room":
        return client_for(ProviderFactory(account=account, rooms=[room]).user)
    if role == "provider of another room":
        return client_for(ProviderFactory(account=account, rooms=[RoomFactory(account=account)]).user)
    if role == "another member":
        return client_for(MemberFactory(account=account).user)
    if role == "front desk":
        from tests.clinic.factories import front_desk_user

        return client_for(front_desk_user(account))
    if role == "admin":
        return client_for(clinic_admin_user(account))
    if role == "admin of another account":
        return client_for(clinic_admin_user(AccountFactory(code="other")))
    raise AssertionError(role)


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("provider of the room", 200),
        ("front desk", 404),  # files are clinical content
        ("admin", 200),
        ("provider of another room", 404),
        ("another member", 404),
        ("admin of another account", 404),
    ],
)
def test_who_may_download_an_attached_file(account, room, attached, role, status):
    response = _reader(role, account, room).get(f"files/{attached.pk}")

    assert response.status_code == status
    if status == 404:
        assert response.json()["code"] == 404
    else:
        assert b"".join(response.streaming_content) == image_bytes()


def test_the_intakes_named_provider_may_download(account, room, member):
    elsewhere = ProviderFactory(account=account, rooms=[RoomFactory(account=account)])
    intake = IntakeFactory(account=account, room=room, member=member, provider=elsewhere)
    attachment = stored_attachment(user=member.user, intake=intake)

    assert client_for(elsewhere.user).get(f"files/{attachment.pk}").status_code == 200


def test_an_unattached_file_is_the_uploaders_and_admins_only(account, room, member, member_api):
    loose = stored_attachment(user=member.user)

    assert member_api.get(f"files/{loose.pk}").status_code == 200
    assert _reader("admin", account, room).get(f"files/{loose.pk}").status_code == 200
    assert _reader("front desk", account, room).get(f"files/{loose.pk}").status_code == 404
    assert _reader("provider of the room", account, room).get(f"files/{loose.pk}").status_code == 404


def test_unknown_and_malformed_ids_are_404(member_api):
    assert member_api.get(f"files/{uuid.uuid4()}").status_code == 404
    assert member_api.get("files/not-an-id").status_code == 404


def test_the_storage_path_is_not_served_publicly(client, attached, settings):
    assert default_storage.exists(attached.file.name)

    response = client.get(f"/{settings.MEDIA_URL}{attached.file.name}")

    assert response.status_code == 404


def test_a_file_missing_from_storage_is_404_not_500(member_api, attached):
    default_storage.delete(attached.file.name)

    response = member_api.get(f"files/{attached.pk}")

    assert response.status_code == 404 and response.json()["code"] == 404


def test_an_upload_spooled_to_a_temporary_file_is_checked_and_stored_the_same(
    settings, member_api, media_root
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # past this Django writes the upload to a temporary file
    data = image_bytes("JPEG", size=(300, 300), noise=True)
    assert len(data) > 1024

    response = post_file(member_api, "big.jpg", data)

    assert response.status_code == 201 and response.json()["data"]["type"] == "image/jpeg"
    attachment = Attachment.objects.get(pk=response.json()["data"]["id"])
    assert (media_root / attachment.file.name).read_bytes() == data
    assert default_storage.exists(attachment.thumbnail.name)
    assert post_file(member_api, "big.jpg", ELF_HEADER * 20).status_code == 400
