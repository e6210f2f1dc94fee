import datetime as dt

import pytest

from clinic.demo import seed_demo_clinic
from clinic.models import Member
from scheduling import services
from scheduling.models import ScheduleException, WorkingHours
from tests.clinic.factories import MemberFactory
from tests.scheduling.conftest import la, ts
from tests.scheduling.factories import work
from visits.models import Visit, VisitEvent, VisitStatus

pytestmark = pytest.mark.usefixtures("clock")

MONDAY = "2027-03-08"


def span(start: str, end: str) -> str:
    return f"{start}\N{EN DASH}{end}"  # as the day view prints a time range


@pytest.fixture
def desk(client, front_desk):
    client.force_login(front_desk)
    return client


@pytest.fixture
def hours(provider, room):
    work(provider, room)


def search(room, consultation, day=MONDAY, **extra):
    return {"room": room.pk, "consultation": consultation.pk, "provider": "", "day": day, **extra}


def book_post(desk, room, consultation, start, member_code, provider=None):
    return desk.post(
        "/scheduling/book/",
        {
            **search(room, consultation),
            "start": ts(start),
            "book_provider": provider.pk if provider else 0,
            "member": member_code,
        },
        HTTP_HX_REQUEST="true",
    )


def test_only_front_desk_and_clinic_admins_reach_the_booking_pages(
    client, provider, member, clinic_admin, front_desk
):
    assert client.get("/scheduling/").status_code == 302  # to the login page
    client.force_login(provider.user)
    assert client.get("/scheduling/").status_code == 403
    assert client.post("/scheduling/book/").status_code == 403
    client.force_login(member.user)
    assert client.get("/scheduling/day/").status_code == 403
    for user in (front_desk, clinic_admin):
        client.force_login(user)
        assert client.get("/scheduling/").status_code == 200
    client.force_login(front_desk)
    assert client.get("/scheduling/hours/").status_code == 403


def test_free_slots_are_shown_in_the_rooms_local_time_with_its_zone(desk, hours, room, consultation):
    page = desk.get("/scheduling/", search(room, consultation)).content.decode()
    assert "America/Los_Angeles (PST)" in page
    assert ">09:00<" in page and ">16:45<" in page and ">17:00<" not in page
    after_dst = desk.get("/scheduling/", search(room, consultation, day="2027-03-15")).content.decode()
    assert "America/Los_Angeles (PDT)" in after_dst and ">09:00<" in after_dst
    partial = desk.get("/scheduling/", search(room, consultation), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and ">09:00<" in partial


def test_booking_a_slot_confirms_it_and_a_taken_slot_shows_a_message_and_fresh_slots(
    desk, hours, room, consultation, provider, member, account
):
    picked = desk.get(
        "/scheduling/pick/",
        {**search(room, consultation), "start": ts(la(2027, 3, 8, 9))},
        HTTP_HX_REQUEST="true",
    )
    assert picked["HX-Retarget"] == "#book"
    assert "Dr. Lee" in picked.content.decode() and 'name="member"' not in picked.content.decode()

    booked = book_post(desk, room, consultation, la(2027, 3, 8, 9), member.code, provider)
    body = booked.content.decode()
    assert 'id="confirmation"' in body and "Pat Jones" in body and "09:00" in body
    assert ">09:00<" not in body  # the fresh slots no longer offer it
    visit = Visit.objects.get(member=member)
    assert (visit.provider, visit.start) == (provider, la(2027, 3, 8, 9))

    gone = desk.get(
        "/scheduling/pick/",
        {**search(room, consultation), "start": ts(la(2027, 3, 8, 9))},
        HTTP_HX_REQUEST="true",
    )
    assert gone["HX-Retarget"] == "#workspace"
    assert "That slot was just booked by someone else. Here are the free ones now." in gone.content.decode()

    someone = MemberFactory(account=account, first_name="Sam", last_name="Reed")
    taken = book_post(desk, room, consultation, la(2027, 3, 8, 9), someone.code, provider)
    body = taken.content.decode()
    assert taken.status_code == 200
    assert "Just booked by someone else." in body
    assert ">09:15<" in body and ">09:00<" not in body
    # The card stays, for the same patient, with the nearest free times as buttons.
    assert 'id="book-card"' in body and f'value="{someone.code}"' in body and "checked" in body
    assert f'name="alternative" value="{ts(la(2027, 3, 8, 9, 15))}:{provider.pk}"' in body
    assert "Book Mon 8 Mar, 09:15 with Dr. Lee" in body
    assert not Visit.objects.filter(member=someone).exists()


def test_booking_without_choosing_a_patient_says_so(desk, hours, room, consultation, provider):
    response = book_post(desk, room, consultation, la(2027, 3, 8, 9), "", provider)
    assert "Choose the patient." in response.content.decode()
    assert not Visit.objects.exists()


def test_find_a_patient_by_name_code_or_phone_or_create_one(desk, member, account):
    MemberFactory(account=account, first_name="Jo", last_name="Smith", phone="+14155559999", code="P-7")
    for query, expected in (
        ("jones", "Pat Jones"),
        ("P-1001", "Pat Jones"),
        ("555-9999", "Jo Smith"),
        ("pat jones", "Pat Jones"),
    ):
        body = desk.get("/scheduling/patients/", {"q": query}).content.decode()
        assert expected in body, query
    assert "No patient matches." in desk.get("/scheduling/patients/", {"q": "nobody"}).content.decode()
    created = desk.post(
        "/scheduling/patients/new/",
        {"code": "P-9", "first_name": "New", "last_name": "Person", "phone": "(415) 555-0101", "state": "CA"},
    ).content.decode()
    assert "New Person" in created and "checked" in created
    assert Member.objects.get(code="P-9").phone == "+14155550101"
    duplicate = desk.post("/scheduling/patients/new/", {"code": "P-9", "first_name": "A", "last_name": "B"})
    assert "already exists" in duplicate.content.decode()


def test_day_view_reschedule_and_cancel(
    desk, hours, room, consultation, provider, member, front_desk, account
):
    visit = services.appointment_book(
        account=account,
        actor=front_desk,
        room_code="main",
        start=la(2027, 3, 8, 10),
        end=la(2027, 3, 8, 10, 15),
        provider_id=provider.pk,
        member_code=member.code,
    )
    day = desk.get("/scheduling/day/", {"room": room.pk, "day": MONDAY}).content.decode()
    assert "Dr. Lee" in day and "Pat Jones" in day and span("10:00", "10:15") in day and "(PST)" in day

    panel = desk.get(
        f"/scheduling/appointments/{visit.pk}/reschedule/", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert ">09:45<" in panel and ">10:00<" not in panel

    asked = desk.post(
        f"/scheduling/appointments/{visit.pk}/reschedule/",
        {"start": ts(la(2027, 3, 8, 11))},
        HTTP_HX_REQUEST="true",
    )
    assert asked["HX-Retarget"] == f"#reschedule-{visit.pk}"
    assert "Move Pat Jones from Mon 8 Mar, 10:00 to Mon 8 Mar, 11:00?" in asked.content.decode()
    visit.refresh_from_db()
    assert visit.start == la(2027, 3, 8, 10)  # not before the answer
    moved = desk.post(
        f"/scheduling/appointments/{visit.pk}/reschedule/",
        {"start": ts(la(2027, 3, 8, 11)), "confirmed": "on"},
        HTTP_HX_REQUEST="true",
    )
    assert moved["HX-Retarget"] == "#schedule"
    assert "Moved Pat Jones" in moved.content.decode() and span("11:00", "11:15") in moved.content.decode()
    visit.refresh_from_db()
    assert visit.start == la(2027, 3, 8, 11)

    services.appointment_book(
        account=account,
        actor=front_desk,
        room_code="main",
        start=la(2027, 3, 8, 12),
        end=la(2027, 3, 8, 12, 15),
        provider_id=provider.pk,
        member_code=MemberFactory(account=account).code,
    )
    clash = desk.post(
        f"/scheduling/appointments/{visit.pk}/reschedule/",
        {"start": ts(la(2027, 3, 8, 12)), "confirmed": "on"},
        HTTP_HX_REQUEST="true",
    )
    assert clash["HX-Retarget"] == f"#reschedule-{visit.pk}"
    assert "no longer available" in clash.content.decode() and ">12:15<" in clash.content.decode()

    no_reason = desk.post(
        f"/scheduling/appointments/{visit.pk}/cancel/", {"reason": " "}, HTTP_HX_REQUEST="true"
    )
    assert "Say why it is cancelled." in no_reason.content.decode()
    visit.refresh_from_db()
    assert visit.status == VisitStatus.WAITING
    cancelled = desk.post(
        f"/scheduling/appointments/{visit.pk}/cancel/", {"reason": "Patient phoned"}, HTTP_HX_REQUEST="true"
    )
    assert "Cancelled the appointment of Pat Jones" in cancelled.content.decode()
    assert span("11:00", "11:15") not in cancelled.content.decode()
    visit.refresh_from_db()
    assert visit.status == VisitStatus.CANCELLED
    assert VisitEvent.objects.filter(visit=visit, reason="Patient phoned").exists()


def test_providers_see_their_own_schedule_read_only(
    client, hours, room, provider, other_provider, member, front_desk, account
):
    work(other_provider, room)
    for p, hour in ((provider, 10), (other_provider, 11)):
        services.appointment_book(
            account=account,
            actor=front_desk,
            room_code="main",
            start=la(2027, 3, 8, hour),
            end=la(2027, 3, 8, hour, 15),
            provider_id=p.pk,
            member_code=MemberFactory(account=account).code,
        )
    client.force_login(provider.user)
    page = client.get("/scheduling/day/", {"room": room.pk, "day": MONDAY}).content.decode()
    assert "My schedule" in page and span("10:00", "10:15") in page
    assert span("11:00", "11:15") not in page and "Cancel" not in page and "Reschedule" not in page
    mine = Visit.objects.get(provider=provider)
    assert client.post(f"/scheduling/appointments/{mine.pk}/cancel/", {"reason": "x"}).status_code == 403


def test_clinic_admin_edits_hours_and_exceptions(client, clinic_admin, provider, room, consultation):
    client.force_login(clinic_admin)
    url = f"/scheduling/hours/?provider={provider.pk}"
    response = client.post(
        url,
        {
            "action": "add_hours",
            "hours-room": room.pk,
            "hours-weekday": 0,
            "hours-start_time": "22:00",
            "hours-end_time": "02:00",
            "hours-overnight": "on",
        },
        follow=True,
    )
    assert "22:00-02:00 (next day)" in response.content.decode()
    rule = WorkingHours.objects.get(provider=provider)
    assert (rule.weekday, rule.end_time) == (0, dt.time(2))
    client.post(
        url,
        {
            "action": "add_exception",
            "exception-kind": "off",
            "exception-room": "",
            "exception-start_date": "2027-03-15",
            "exception-end_date": "2027-03-16",
            "exception-start_time": "00:00",
            "exception-end_time": "00:00",
            "exception-note": "Conference",
        },
    )
    exception = ScheduleException.objects.get(provider=provider)
    assert (exception.room, exception.end_date, exception.note) == (None, dt.date(2027, 3, 16), "Conference")
    bad = client.post(
        url,
        {
            "action": "add_exception",
            "exception-kind": "extra",
            "exception-room": "",
            "exception-start_date": "2027-03-20",
            "exception-start_time": "10:00",
            "exception-end_time": "12:00",
        },
        follow=True,
    )
    assert "Extra hours need a room." in bad.content.decode()
    asked = client.post(url, {"action": "delete_hours", "id": rule.pk}).content.decode()
    assert "Remove Monday 22:00-02:00 (next day) in Room main?" in asked
    assert WorkingHours.objects.exists()  # not before the answer
    client.post(url, {"action": "delete_hours", "id": rule.pk, "confirmed": "yes"})
    assert not WorkingHours.objects.exists()


def test_seed_demo_gives_the_demo_providers_weekday_hours_once(db):
    seed_demo_clinic(account_code="demo-hours")
    seed_demo_clinic(account_code="demo-hours")
    rules = WorkingHours.objects.filter(account__code="demo-hours")
    assert rules.count() == 10
    assert {(r.weekday, r.start_time, r.end_time) for r in rules} == {
        (d, dt.time(9), dt.time(17)) for d in range(5)
    }
