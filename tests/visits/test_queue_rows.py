"""What a queue row and a board row tell a provider: age and sex, long content that wraps, the room's
names for its intake fields, the preview of every answer and file, and who left the queue unseen."""

import datetime as dt
import re
from html import unescape

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from tests.clinic.factories import MemberFactory, ProviderFactory, RoomFactory
from tests.visits.attachment_factories import image_bytes, pdf_bytes, stored_attachment
from tests.visits.factories import IntakeFactory, VisitFactory
from tests.visits.summary_factories import walk_through
from visits import selectors, services
from visits.summaries.render import summary_context

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
QUEUES = reverse("visits:queues")
LONG_URL = "https://example.org/" + "a" * 400
LONG_REASON = ("Itchy rash " * 408)[:4080] + LONG_URL  # 4,500 characters, ending in a 420-character link


@pytest.fixture
def dr_lee(client, provider):
    client.force_login(provider.user)
    return client


def queued(room, *, first="Maria", last="Gonzalez", dob=None, gender="", minutes_ago=0, **intake):
    member = MemberFactory(account=room.account, first_name=first, last_name=last, dob=dob, gender=gender)
    with time_machine.travel(timezone.now() - dt.timedelta(minutes=minutes_ago), tick=False):
        return VisitFactory(
            account=room.account,
            room=room,
            member=member,
            intake=IntakeFactory(account=room.account, room=room, member=member, **intake),
        )


def row_text(html: str, visit) -> str:
    start = html.index(f'id="visit-{visit.pk}"')
    row = html[start : html.index("</li>", start)]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split())


# --- age and sex ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dob", "words"),
    [
        (dt.date(2019, 6, 15), "7 y"),  # the birthday is today
        (dt.date(2019, 6, 16), "6 y"),  # tomorrow
        (dt.date(2024, 12, 16), "17 mo"),
        (dt.date(2026, 6, 3), "12 d"),
        (None, "Age not given"),
        (dt.date(2026, 7, 1), "Age not given"),  # a date of birth in the future is a typing error
    ],
)
def test_age_reads_at_a_glance(dob, words):
    assert selectors.patient_age(dob, today=dt.date(2026, 6, 15)) == words


def test_queue_and_board_rows_show_age_and_sex(dr_lee, client, room, front_desk):
    child = queued(room, first="Tom", last="Small", dob=dt.date(2019, 1, 2), gender="male")
    adult = queued(room, first="Maria", last="Gonzalez", gender="female")

    with time_machine.travel(dt.datetime(2026, 6, 15, 18, tzinfo=dt.UTC), tick=False):
        html = dr_lee.get(reverse("visits:dashboard")).content.decode()
        assert "7 y · Male" in row_text(html, child)
        assert "Age not given · Female" in row_text(html, adult)

        client.force_login(front_desk)
        board = client.get(reverse("visits:board")).content.decode()
    start = board.index(f'id="board-visit-{child.pk}"')
    assert "7 y · Male" in board[start : board.index("</li>", start)]


def test_a_birthday_starts_at_the_rooms_midnight_not_utcs(dr_lee, account, provider):
    tokyo = RoomFactory(account=account, code="tokyo", time_zone="Asia/Tokyo")
    provider.rooms.add(tokyo)
    visit = queued(tokyo, first="Yui", last="Sato", dob=dt.date(2019, 6, 16), gender="female")

    # 16 June 00:30 in Tokyo is still 15 June in UTC: she is seven there.
    with time_machine.travel(dt.datetime(2026, 6, 15, 15, 30, tzinfo=dt.UTC), tick=False):
        html = dr_lee.get(reverse("visits:dashboard")).content.decode()
    assert "7 y · Female" in row_text(html, visit)


# --- long and hostile content --------------------------------------------------------------------------


def test_a_long_reason_is_cut_to_two_lines_and_hostile_markup_is_text(dr_lee, room):
    visit = queued(room, last="<script>alert(1)</script>", reason_for_visit=LONG_REASON)

    html = dr_lee.get(reverse("visits:dashboard")).content.decode()

    start = html.index(f'id="visit-{visit.pk}"')
    row = html[start : html.index("</li>", start)]
    assert "<script>alert(1)</script>" not in row
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row
    assert '<div class="reason clamp" data-more>' in row  # two lines, and "more" where it is cut
    assert LONG_URL in row  # all of it is there, for "more"


# --- the room's names for its intake fields --------------------------------------------------------------


def test_a_room_names_orders_and_hides_its_intake_fields(dr_lee, room):
    room.intake_fields = [
        {"name": "custom_temp", "label": "Temperature (°C)"},
        {"name": "custom_insurer", "label": "Insurer", "on_row": False},
    ]
    room.full_clean()
    room.save()
    visit = queued(
        room,
        custom={"custom_is_allergic": "Yes", "custom_insurer": "Acme Health", "custom_temp": "38.5"},
    )

    html = dr_lee.get(reverse("visits:dashboard")).content.decode()

    text = row_text(html, visit)
    assert text.index("Temperature (°C) 38.5") < text.index("is allergic Yes")  # named first, unnamed after
    assert "Insurer" not in text and "Acme Health" not in text
    assert "Details (+1)" in text  # one more answer in the preview


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"custom_temp": "Temperature"}, "Give a list of fields"),
        ([{"label": "Temperature"}], "Field 1: give the intake field's name"),
        ([{"name": "custom_a"}, {"name": "custom_a"}], "Field 2: custom_a is listed twice."),
        ([{"name": "custom_a", "label": "x" * 101}], "at most 100 characters"),
        ([{"name": "custom_a", "on_row": "no"}], "on_row is true or false"),
        ([{"name": "custom_a", "colour": "red"}], "unknown key colour"),
    ],
)
def test_a_rooms_intake_fields_are_checked_in_words(room, fields, message):
    room.intake_fields = fields
    with pytest.raises(ValidationError) as raised:
        room.full_clean()
    assert message in " ".join(raised.value.message_dict["intake_fields"])


# --- the preview ---------------------------------------------------------------------------------------


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_expanding_a_row_shows_every_answer_and_the_files_and_is_audited(dr_lee, room, provider, media_root):
    room.intake_fields = [{"name": "custom_insurer", "label": "Insurer", "on_row": False}]
    room.save()
    visit = queued(room, custom={"custom_insurer": "Acme Health"}, reason_for_visit="Rash\nsince Monday")
    photo = stored_attachment(
        user=visit.member.user, intake=visit.intake, name="rash.png", data=image_bytes()
    )
    stored_attachment(user=visit.member.user, intake=visit.intake, name="labs.pdf", data=pdf_bytes())
    html = dr_lee.get(reverse("visits:dashboard")).content.decode()
    assert f'href="/dashboard/visits/{visit.pk}/"' in html  # the preview is its URL plus preview/

    response = dr_lee.get(reverse("visits:queue-preview", args=[visit.pk]), **HTMX)

    preview = response.content.decode()
    assert "Insurer" in preview and "Acme Health" in preview
    assert "Rash<br>since Monday" in preview
    assert reverse("visits:attachment-thumbnail", args=[photo.pk]) in preview
    assert "labs.pdf" in preview
    read = AuditEvent.objects.filter(user=provider.user, action=AuditEvent.Action.READ)
    assert set(read.values_list("object_type", "member_id")) == {
        ("visit", visit.member_id),
        ("intake", visit.member_id),
    }


def test_the_preview_of_another_rooms_patient_is_not_found_and_the_front_desk_has_none(
    client, account, room, front_desk
):
    elsewhere = RoomFactory(account=account, code="elsewhere")
    visit = queued(elsewhere)
    outsider = ProviderFactory(account=account, rooms=[room])
    client.force_login(outsider.user)
    assert client.get(reverse("visits:queue-preview", args=[visit.pk]), **HTMX).status_code == 404
    client.force_login(front_desk)
    assert client.get(reverse("visits:queue-preview", args=[visit.pk]), **HTMX).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.READ).exists()


# --- who left unseen -----------------------------------------------------------------------------------


def test_a_patient_closed_by_the_system_is_listed_as_having_left_with_how_long_they_waited(dr_lee, room):
    room.max_waiting_time = 20 * 60
    room.save()
    maria = queued(room, minutes_ago=21)
    other_room = RoomFactory(account=room.account, code="other", max_waiting_time=60)
    not_mine = queued(other_room, first="Someone", last="Else", minutes_ago=5)
    page = dr_lee.get(reverse("visits:dashboard")).content.decode()
    assert "Left without being seen today (0)" in page

    with time_machine.travel(maria.created + dt.timedelta(minutes=20, seconds=30), tick=False):
        assert services.visits_close_overdue() == 2

    html = dr_lee.get(QUEUES, {"v": "old"}, **HTMX).content.decode()
    assert "Left without being seen today (1)" in html
    assert (
        f'data-left-id="{maria.pk}" data-notice="Maria Gonzalez left the queue after waiting 20 minutes'
        in html
    )
    assert f'data-left-id="{not_mine.pk}"' not in html
    listed = AuditEvent.objects.filter(action=AuditEvent.Action.LIST, object_type="visit")
    assert listed.filter(object_id=str(maria.pk)).exists()


def test_who_left_unseen_is_todays_in_the_rooms_zone_across_dst(provider, room):
    # Los Angeles moves to summer time on 8 March 2026: that day starts at 08:00 UTC, and the next at 07:00.
    with time_machine.travel(dt.datetime(2026, 3, 9, 6, 50, tzinfo=dt.UTC), tick=False):  # 23:50 on the 8th
        visit = queued(room, first="Ana", last="Ruiz", minutes_ago=3)
        services.visit_close(
            account=room.account, actor=visit.member.user, visit_id=visit.pk, reason="patient_exit_room"
        )
    with time_machine.travel(dt.datetime(2026, 3, 9, 6, 59, tzinfo=dt.UTC), tick=False):
        left = selectors.provider_queue_pages(user=provider.user, limit=25, now=timezone.now()).left_unseen
    assert [v.pk for v in left] == [visit.pk]
    assert selectors.left_unseen_words(left[0]) == "Ana Ruiz left the waiting room after 3 minutes"
    with time_machine.travel(dt.datetime(2026, 3, 9, 7, 10, tzinfo=dt.UTC), tick=False):  # 00:10 on the 9th
        assert (
            selectors.provider_queue_pages(user=provider.user, limit=25, now=timezone.now()).left_unseen == []
        )


# --- the PDF summary -----------------------------------------------------------------------------------


def _text_outside_its_box(visit) -> list[str]:
    """Text that WeasyPrint laid out beyond the page's content area (clipped when printed) or beyond its
    table cell (running into the next cell)."""
    from weasyprint import CSS, HTML
    from weasyprint.formatting_structure.boxes import ParentBox, TableCellBox, TextBox

    html = render_to_string("visits/pdf/summary.html", summary_context(visit))
    css = CSS(filename=finders.find("css/summary.css"))
    outside = []

    def walk(box, right):
        if isinstance(box, TableCellBox):
            right = min(right, box.content_box_x() + box.width)
        if isinstance(box, TextBox) and box.position_x + box.width > right + 0.5:
            outside.append(box.text[:40])
        if isinstance(box, ParentBox):
            for child in box.children:
                walk(child, right)

    for page in HTML(string=html).render(stylesheets=[css]).pages:
        walk(page._page_box, page._page_box.content_box_x() + page._page_box.width)
    return outside


def test_the_pdf_wraps_a_long_reason_link_and_name_and_clips_nothing(account, room, provider):
    member = MemberFactory(account=account, first_name="Maximiliana" * 6, last_name="Gonzalez-" * 8)
    visit = walk_through(
        member=member,
        provider=provider,
        room=room,
        joined=timezone.now() - dt.timedelta(hours=1),
        reason=LONG_REASON,
        custom={"custom_link": LONG_URL},
    )
    assert _text_outside_its_box(visit) == []
