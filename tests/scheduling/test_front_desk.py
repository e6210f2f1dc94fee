"""The front desk's booking page and calendar as staff use them: cancel and undo, a slot taken meanwhile,
a new patient, searching patients, past days, and the clinic admin's hours page."""

import datetime as dt

import pytest
from django.db import connection

from clinic.models import AuditEvent, Member
from messaging.selectors import has_consent
from scheduling import selectors, services
from scheduling.models import ScheduleException, WorkingHours
from tests.clinic.factories import AccountFactory, MemberFactory
from tests.scheduling.conftest import la, ts
from tests.scheduling.factories import work
from visits.models import Visit, VisitStatus

pytestmark = pytest.mark.usefixtures("clock")

MONDAY = "2027-03-08"


@pytest.fixture
def desk(client, front_desk):
    client.force_login(front_desk)
    return client


@pytest.fixture
def hours(provider, other_provider, room):
    work(provider, room)
    work(other_provider, room)


def book(account, front_desk, provider, member, start, minutes=15):
    return services.appointment_book(
        account=account,
        actor=front_desk,
        room_code="main",
        start=start,
        end=start + dt.timedelta(minutes=minutes),
        provider_id=provider.pk,
        member_code=member.code,
    )


def search(room, consultation, day=MONDAY):
    return {"room": room.pk, "consultation": consultation.pk, "provider": "", "day": day}


# --- cancel and undo on the calendar -------------------------------------------------------------------


def test_a_cancelled_appointment_stays_struck_through_and_undo_books_it_again(
    desk, hours, room, consultation, provider, member, front_desk, account, clock
):
    visit = book(account, front_desk, provider, member, la(2027, 3, 8, 10))
    url = f"/scheduling/calendar/{visit.pk}/cancel/"
    cancelled = desk.post(url, {"reason": "Feels better"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Cancelled the appointment of Pat Jones. Undo is offered for 5 minutes." in cancelled
    assert "<s>Pat Jones</s>" in cancelled and "Cancelled by" in cancelled and "Feels better" in cancelled
    assert f"/scheduling/calendar/{visit.pk}/undo/" in cancelled
    assert ">10:00<" in desk.get("/scheduling/", search(room, consultation)).content.decode()  # free at once

    undone = desk.post(f"/scheduling/calendar/{visit.pk}/undo/", {"view": "day"}).content.decode()
    assert "Booked Pat Jones again: Mon 08 Mar, 10:00." in undone
    again = Visit.objects.get(status=VisitStatus.WAITING)
    assert (again.member, again.provider, again.start, again.intake_id) == (
        member, provider, la(2027, 3, 8, 10), visit.intake_id
    )  # fmt: skip
    assert "<s>Pat Jones</s>" not in undone  # the undone cancellation gives way to the booking
    assert desk.post(f"/scheduling/calendar/{visit.pk}/undo/").status_code == 409  # once only


def test_undo_says_so_when_the_slot_was_taken_meanwhile_or_it_is_too_late(
    desk, hours, room, consultation, provider, member, front_desk, account, clock
):
    visit = book(account, front_desk, provider, member, la(2027, 3, 8, 10))
    services.appointment_cancel(account=account, actor=front_desk, visit_id=visit.pk, reason="Ill")
    someone = MemberFactory(account=account, first_name="Sam", last_name="Reed")
    book(account, front_desk, provider, someone, la(2027, 3, 8, 10))
    page = desk.get("/scheduling/calendar/", {"room": room.pk, "day": MONDAY}).content.decode()
    assert f"/scheduling/calendar/{visit.pk}/undo/" not in page  # not offered over a booking
    taken = desk.post(f"/scheduling/calendar/{visit.pk}/undo/", {"view": "day"})
    assert taken.status_code == 409
    assert "The time was booked meanwhile: the appointment cannot be restored." in taken.content.decode()
    assert Visit.objects.filter(member=member, status=VisitStatus.WAITING).count() == 0

    late = book(account, front_desk, provider, member, la(2027, 3, 8, 11))
    services.appointment_cancel(account=account, actor=front_desk, visit_id=late.pk, reason="Ill")
    clock.shift(dt.timedelta(minutes=5, seconds=1))
    page = desk.get("/scheduling/calendar/", {"room": room.pk, "day": MONDAY}).content.decode()
    assert f"/scheduling/calendar/{late.pk}/undo/" not in page
    refused = desk.post(f"/scheduling/calendar/{late.pk}/undo/", {"view": "day"}).content.decode()
    assert "can be undone for 5 minutes only" in refused


def test_the_calendar_asks_before_a_dropped_appointment_is_moved(
    desk, hours, room, consultation, provider, other_provider, member, front_desk, account
):
    visit = book(account, front_desk, provider, member, la(2027, 3, 8, 10))
    drop = {"start": ts(la(2027, 3, 8, 14)), "provider": other_provider.pk, "view": "day"}
    asked = desk.post(f"/scheduling/calendar/{visit.pk}/move/", drop, HTTP_HX_REQUEST="true").content.decode()
    assert "Move Pat Jones from Mon 08 Mar, 10:00 with Dr. Lee to Mon 08 Mar, 14:00 with Dr. Patel?" in asked
    assert "Yes, move" in asked and "Keep it" in asked
    visit.refresh_from_db()
    assert (visit.start, visit.provider) == (la(2027, 3, 8, 10), provider)
    desk.post(f"/scheduling/calendar/{visit.pk}/move/", {**drop, "confirmed": "on"}, HTTP_HX_REQUEST="true")
    visit.refresh_from_db()
    assert (visit.start, visit.provider) == (la(2027, 3, 8, 14), other_provider)


# --- booking ---------------------------------------------------------------------------------------------


def test_a_booking_error_is_beside_its_field_and_keeps_the_slot_and_reason(desk, hours, room, consultation):
    body = desk.post(
        "/scheduling/book/",
        {**search(room, consultation), "start": ts(la(2027, 3, 8, 9)), "book_provider": 0, "reason": "Rash"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'id="member-error">Choose the patient.</div>' in body
    assert "member:" not in body.lower() and 'id="book-card"' in body and "Monday 8 March, 09:00" in body
    assert ">Rash</textarea>" in body
    assert not Visit.objects.exists()


def test_a_slot_taken_meanwhile_offers_the_nearest_free_ones_same_provider_first(
    desk, hours, room, consultation, provider, other_provider, member, front_desk, account
):
    someone = MemberFactory(account=account, first_name="Sam", last_name="Reed")
    for p in (provider, other_provider):
        book(account, front_desk, p, someone, la(2027, 3, 8, 10), minutes=15)
    book(account, front_desk, provider, someone, la(2027, 3, 8, 10, 15), minutes=15)
    body = desk.post(
        "/scheduling/book/",
        {
            **search(room, consultation),
            "start": ts(la(2027, 3, 8, 10)),
            "book_provider": provider.pk,
            "member": member.code,
            "reason": "Follow-up",
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Just booked by someone else." in body
    offered = [line.strip() for line in body.splitlines() if 'name="alternative"' in line]
    labels = [line.split(">")[1].split("<")[0] for line in offered]
    assert labels == [  # nearest first; of two as near, the earlier
        "Book Mon 8 Mar, 09:45 with Dr. Lee",
        "Book Mon 8 Mar, 09:30 with Dr. Lee",
        "Book Mon 8 Mar, 10:30 with Dr. Lee",
        "Book Mon 8 Mar, 09:45 with Dr. Patel",
        "Book Mon 8 Mar, 10:15 with Dr. Patel",
        "Book Mon 8 Mar, 09:30 with Dr. Patel",
    ]
    assert f'value="{member.code}"' in body and "checked" in body and ">Follow-up</textarea>" in body

    booked = desk.post(
        "/scheduling/book/",
        {
            **search(room, consultation),
            "start": ts(la(2027, 3, 8, 10)),
            "book_provider": provider.pk,
            "member": member.code,
            "reason": "Follow-up",
            "alternative": f"{ts(la(2027, 3, 8, 10, 15))}:{other_provider.pk}",
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'id="confirmation"' in booked
    visit = Visit.objects.get(member=member)
    assert (visit.start, visit.provider, visit.intake.reason_for_visit) == (
        la(2027, 3, 8, 10, 15), other_provider, "Follow-up"
    )  # fmt: skip


def test_past_days_offer_no_slots_and_say_why(desk, hours, room, consultation):
    body = desk.get("/scheduling/", search(room, consultation, day="2027-03-05")).content.decode()
    assert "This day is in the past: no slots are offered." in body and "No free slot" not in body
    today = desk.get("/scheduling/", search(room, consultation)).content.decode()
    assert "in the past" not in today and ">09:00<" in today


# --- new patients ----------------------------------------------------------------------------------------


def test_the_new_patient_form_proposes_the_next_code_and_carries_the_name_typed(desk, account):
    MemberFactory(account=account, code="P-00007")
    MemberFactory(account=account, code="P-00012-X")  # not of the pattern's form
    form = desk.get("/scheduling/patients/new/", {"q": "Ann Marie Lee"}).content.decode()
    assert 'value="P-00008"' in form and 'value="Ann"' in form and 'value="Marie Lee"' in form
    phone = desk.get("/scheduling/patients/new/", {"q": "(415) 555-0199"}).content.decode()
    assert 'value="(415) 555-0199"' in phone
    account.patient_code_pattern = "ACME-{seq}"
    account.save()
    assert selectors.next_patient_code(account=account) == "ACME-1"
    MemberFactory(account=account, code="ACME-9")
    MemberFactory(account=account, code="ACME-10")
    assert selectors.next_patient_code(account=account) == "ACME-11"


@pytest.mark.parametrize(
    ("dob", "message"),
    [
        ("2027-03-09", "The date of birth is in the future."),
        ("1897-03-07", "The date of birth is more than 130 years ago."),
    ],
)
def test_an_impossible_date_of_birth_is_refused_beside_the_field(desk, dob, message):
    body = desk.post(
        "/scheduling/patients/new/", {"code": "P-1", "first_name": "Ann", "last_name": "Lee", "dob": dob}
    ).content.decode()
    assert message in body and not Member.objects.exists()


def test_a_possible_duplicate_is_shown_first_and_saving_anyway_is_a_second_click(desk, account):
    born = dt.date(1980, 5, 1)
    same = MemberFactory(account=account, first_name="Ann", last_name="Lee", dob=born, phone="")
    other = MemberFactory(account=account, first_name="Bo", last_name="Ray", phone="+14155550142")
    new = {"code": "P-77", "first_name": "ann", "last_name": "LEE", "dob": "1980-05-01", "phone": ""}
    warned = desk.post("/scheduling/patients/new/", new).content.decode()
    assert "This may be a patient the clinic has already" in warned and same.code in warned
    assert 'name="save_anyway"' in warned and not Member.objects.filter(code="P-77").exists()
    by_phone = desk.post(
        "/scheduling/patients/new/", {**new, "dob": "", "first_name": "Cy", "phone": "(415) 555-0142"}
    ).content.decode()
    assert other.code in by_phone and same.code not in by_phone

    saved = desk.post("/scheduling/patients/new/", {**new, "save_anyway": "1"}).content.decode()
    assert "Saved ann LEE (P-77) and chose them for this booking." in saved
    assert 'hx-swap-oob="true"' in saved and 'value="P-77"' in saved and "checked" in saved
    assert Member.objects.filter(code="P-77").exists()


# --- consent to messages ----------------------------------------------------------------------------------


def test_a_new_patients_consent_is_recorded_as_the_front_desk_took_it(desk, front_desk):
    new = {"code": "P-90", "first_name": "Ann", "last_name": "Lee", "phone": "(415) 555-0190"}
    refused = desk.post("/scheduling/patients/new/", {**new, "consent_email": "on"}).content.decode()
    assert "Type the patient&#x27;s email address to send them email." in refused
    assert not Member.objects.filter(code="P-90").exists()

    saved = desk.post(
        "/scheduling/patients/new/",
        {**new, "email": "ann@example.com", "consent_email": "on", "consent_sms": "on"},
    ).content.decode()
    assert "Saved Ann Lee (P-90)" in saved
    ann = Member.objects.get(code="P-90")
    assert ann.email == "ann@example.com"
    assert has_consent(ann, "email") and has_consent(ann, "sms")
    assert {(c.source, c.recorded_by_id) for c in ann.consents.all()} == {("front desk", front_desk.pk)}

    unasked = desk.post("/scheduling/patients/new/", {**new, "code": "P-91", "save_anyway": "1"})
    assert "Saved" in unasked.content.decode()
    assert not Member.objects.get(code="P-91").consents.exists()


def test_the_front_desk_sees_and_changes_a_patients_consent_on_the_booking_page(desk, account, front_desk):
    pat = MemberFactory(account=account, first_name="Pat", email="", phone="+14155550100")
    url = f"/scheduling/patients/{pat.pk}/messages/"
    found = desk.get("/scheduling/patients/", {"q": pat.last_name}).content.decode()
    assert url in found and ">Messages<" in found

    card = desk.get(url).content.decode()
    assert "Appointment messages to" in card and card.count("never asked") == 2

    no_email = desk.post(url, {"consent_email": "on"}).content.decode()
    assert "Type the patient&#x27;s email address to send them email." in no_email
    assert not pat.consents.exists()

    desk.post(url, {"consent_sms": "on"})
    again = desk.post(url, {"consent_sms": "on"}).content.decode()
    assert "Saved." in again and "Text message:" in again and "agreed" in again and "front desk" in again
    assert pat.consents.count() == 1 and has_consent(pat, "sms")

    desk.post(url, {})  # the box unticked: withdrawn, and the history kept
    assert not has_consent(pat, "sms") and pat.consents.count() == 2
    assert "withdrawn" in desk.get(url).content.decode()
    changes = AuditEvent.objects.filter(member_id=pat.pk, action="update").values_list("detail", flat=True)
    assert sorted(changes) == [
        "consent to messages: text message granted",
        "consent to messages: text message withdrawn",
    ]

    stranger = MemberFactory(account=AccountFactory(code="other"))
    assert desk.get(f"/scheduling/patients/{stranger.pk}/messages/").status_code == 404
    assert (
        desk.post(f"/scheduling/patients/{stranger.pk}/messages/", {"consent_sms": "on"}).status_code == 404
    )
    assert not stranger.consents.exists()


# --- searching patients ----------------------------------------------------------------------------------


def test_patients_are_found_by_the_last_four_digits_the_area_code_and_a_code_prefix(desk, account):
    MemberFactory(account=account, first_name="Jo", last_name="Smith", phone="+14155559999", code="P-7001")
    MemberFactory(account=account, first_name="Al", last_name="Wong", phone="+12125551234", code="Q-7002")
    for query, found, not_found in (
        ("9999", "Jo Smith", "Al Wong"),
        ("415", "Jo Smith", "Al Wong"),
        ("(212)", "Al Wong", "Jo Smith"),
        ("555-1234", "Al Wong", "Jo Smith"),
        ("+1 212 555 1234", "Al Wong", "Jo Smith"),
        ("p-70", "Jo Smith", "Al Wong"),
        ("Q-7", "Al Wong", "Jo Smith"),
    ):
        body = desk.get("/scheduling/patients/", {"q": query}).content.decode()
        assert found in body and not_found not in body, query


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_phone_and_code_searches_can_use_the_indexes(account, db):
    Member.objects.bulk_create(
        Member(
            account=account, code=f"C-{n:05d}", first_name="A", last_name=f"B{n}", phone=f"+1415555{n:04d}"
        )
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clinic_member")
    for query, index in (
        ("1234", "member_phone_last4_idx"),
        ("212", "member_phone_prefix_idx"),
        ("c-0123", "member_code_prefix_idx"),
    ):
        plan = selectors.members_matching(account=account, query=query).explain()
        assert index in plan and "Seq Scan" not in plan, (query, plan)


# --- the hours page --------------------------------------------------------------------------------------


def hours_post(client, provider, room, start, end, **extra):
    return client.post(
        f"/scheduling/hours/?provider={provider.pk}",
        {
            "action": "add_hours",
            "hours-room": room.pk,
            "hours-weekday": 0,
            "hours-start_time": start,
            "hours-end_time": end,
            **extra,
        },
        follow=True,
    ).content.decode()


def test_an_end_before_the_start_needs_the_overnight_tick_and_then_works_past_midnight(
    client, clinic_admin, provider, room, consultation
):
    client.force_login(clinic_admin)
    refused = hours_post(client, provider, room, "22:00", "02:00")
    assert "The end is before the start. Tick “Overnight” if the shift ends the next day." in refused
    assert "end_time" not in refused.split("<form")[0] and not WorkingHours.objects.exists()
    wrong_tick = hours_post(client, provider, room, "09:00", "17:00", **{"hours-overnight": "on"})
    assert "An overnight shift ends the next day, before its start time." in wrong_tick
    hours_post(client, provider, room, "22:00", "02:00", **{"hours-overnight": "on"})
    slots = selectors.free_slots(
        room=room, slot_length=900, start=la(2027, 3, 8, 21), end=la(2027, 3, 9, 3), provider_id=provider.pk
    )
    assert slots[0].start == ts(la(2027, 3, 8, 22)) and slots[-1].start == ts(la(2027, 3, 9, 1, 45))


def test_an_exception_in_the_past_is_refused_with_the_reason(client, clinic_admin, provider, room):
    client.force_login(clinic_admin)
    body = client.post(
        f"/scheduling/hours/?provider={provider.pk}",
        {
            "action": "add_exception",
            "exception-kind": "off",
            "exception-room": "",
            "exception-start_date": "2027-03-07",
            "exception-start_time": "00:00",
            "exception-end_time": "00:00",
        },
    ).content.decode()
    assert "That day is in the past: an exception starts today or later." in body
    assert not ScheduleException.objects.exists()


def test_removing_an_exception_asks_first(client, clinic_admin, provider, room):
    client.force_login(clinic_admin)
    off = ScheduleException.objects.create(
        account=provider.account, provider=provider, kind="off", start_date=dt.date(2027, 3, 10),
        end_date=dt.date(2027, 3, 10),
    )  # fmt: skip
    url = f"/scheduling/hours/?provider={provider.pk}"
    asked = client.post(url, {"action": "delete_exception", "id": off.pk}).content.decode()
    assert "Remove time off from 2027-03-10, 00:00-24:00?" in asked and "Yes, remove" in asked
    assert ScheduleException.objects.exists()
    client.post(url, {"action": "delete_exception", "id": off.pk, "confirmed": "yes"})
    assert not ScheduleException.objects.exists()
