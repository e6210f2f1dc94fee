"""The front desk's calendar grid: the pure builder, then the page and moving appointments from it."""

import datetime as dt

import pytest

from scheduling import services
from scheduling.calendar import Appointment, build_grid
from tests.clinic.factories import ProviderFactory
from tests.scheduling.conftest import LA, la, ts
from tests.scheduling.factories import work
from visits.models import VisitStatus

MONDAY = dt.date(2027, 3, 8)
QUARTER = 900


def grid_of(**overrides):
    args = {
        "zone": LA,
        "days": [MONDAY],
        "step": QUARTER,
        "providers": [(1, "Dr. Lee"), (2, "Dr. Patel")],
        "working": {1: [(ts(la(2027, 3, 8, 9)), ts(la(2027, 3, 8, 12)))]},
        "free": {1: {ts(la(2027, 3, 8, 9)), ts(la(2027, 3, 8, 9, 15))}},
        "appointments": [],
        "now": ts(la(2027, 3, 8, 7)),
    }
    return build_grid(**{**args, **overrides})


def kinds(column) -> list[tuple[str, str]]:
    return [(cell.label, cell.kind) for cell in column.cells]


def test_rows_span_the_working_hours_in_whole_hours_and_every_provider_has_a_column():
    grid = grid_of()
    assert [row.time for row in grid.rows][:2] == ["09:00", "09:15"]
    assert grid.rows[-1].time == "11:45"
    lee, patel = grid.columns
    assert (lee.provider, patel.provider) == ("Dr. Lee", "Dr. Patel")  # Dr. Patel works nowhere, still shown
    assert kinds(lee)[:3] == [("09:00", "free"), ("09:15", "free"), ("09:30", "working")]
    assert {kind for _, kind in kinds(patel)} == {"off"}


def test_nobody_working_shows_eight_to_six():
    grid = grid_of(working={}, free={})
    assert (grid.rows[0].time, grid.rows[-1].time) == ("08:00", "17:45")


def test_an_appointment_is_one_cell_over_its_rows_with_words_not_codes():
    booked = Appointment(7, 1, ts(la(2027, 3, 8, 10)), ts(la(2027, 3, 8, 10, 30)), "Pat Jones", "Cough", 10)
    grid = grid_of(appointments=[booked])
    lee = grid.columns[0]
    cell = next(c for c in lee.cells if c.blocks)
    assert (cell.label, cell.rows, cell.kind) == ("10:00", 2, "booked")
    block = cell.blocks[0]
    assert (block.time, block.patient, block.reason, block.status) == (
        "10:00\N{EN DASH}10:30",
        "Pat Jones",
        "Cough",
        "booked",
    )
    assert block.movable
    # The rows below it start after it: 10:30 is the next cell of that column.
    assert [c.label for c in lee.cells].index("10:30") == [c.label for c in lee.cells].index("10:00") + 1
    # Row by row, as the table lists them: 10:15 has no cell of Dr. Lee's (it is covered).
    row_1015 = next(row for row in grid.rows if row.time == "10:15")
    assert [c.provider for c in row_1015.cells] == ["Dr. Patel"]


def test_a_cancelled_appointment_stays_beside_the_one_booked_in_its_place():
    cancelled = Appointment(
        7, 1, ts(la(2027, 3, 8, 10)), ts(la(2027, 3, 8, 10, 15)), "Pat Jones", "", 40,
        cancelled_by="Fran Desk", cancel_reason="patient_cancel_appointment",
    )  # fmt: skip
    rebooked = Appointment(8, 1, ts(la(2027, 3, 8, 10)), ts(la(2027, 3, 8, 10, 15)), "Sam Roe", "", 10)
    cell = next(c for c in grid_of(appointments=[cancelled, rebooked]).columns[0].cells if c.blocks)
    assert cell.rows == 1
    gone, new = sorted(cell.blocks, key=lambda b: b.visit_id)
    assert (gone.status, gone.cancelled, gone.movable) == ("cancelled", True, False)
    assert gone.cancel_note == "Cancelled by Fran Desk: Appointment cancelled"
    assert (new.status, new.cancelled) == ("booked", False)


def test_a_slot_held_for_the_waitlist_says_so_once_and_until_when():
    ten, quarter_past = ts(la(2027, 3, 8, 10)), ts(la(2027, 3, 8, 10, 15))
    held = {1: [(ten, ts(la(2027, 3, 8, 10, 30)), ts(la(2027, 3, 8, 10, 45)))]}
    grid = grid_of(held=held, step=QUARTER)
    cells = {c.label: c for c in grid.columns[0].cells}
    assert (cells["10:00"].kind, cells["10:15"].kind, cells["10:30"].kind) == ("held", "held", "working")
    assert cells["10:00"].note == "Held for the waitlist until 10:45" and cells["10:15"].note == ""
    assert not cells["10:00"].bookable
    # Free at that time after all (the hold released meanwhile): free wins, nothing said.
    free = {1: {quarter_past}}
    assert {c.label: c.kind for c in grid_of(held=held, free=free).columns[0].cells}["10:15"] == "free"


def test_past_and_started_appointments_do_not_move():
    early = Appointment(7, 1, ts(la(2027, 3, 8, 9)), ts(la(2027, 3, 8, 9, 15)), "Pat Jones", "", 10)
    started = Appointment(8, 1, ts(la(2027, 3, 8, 11)), ts(la(2027, 3, 8, 11, 15)), "Sam Roe", "", 20)
    grid = grid_of(appointments=[early, started], now=ts(la(2027, 3, 8, 9, 30)))
    blocks = {b.visit_id: b for c in grid.columns[0].cells for b in c.blocks}
    assert (blocks[7].movable, blocks[8].movable, blocks[8].status) == (False, False, "in progress")


def test_a_week_has_a_column_per_provider_per_day_and_rows_in_local_time_across_dst():
    days = [dt.date(2027, 3, 8) + dt.timedelta(days=i) for i in range(7)]  # DST starts on Sunday 14th
    working = {1: [(ts(la(2027, 3, d, 9)), ts(la(2027, 3, d, 10))) for d in range(8, 15)]}
    grid = grid_of(days=days, working=working, free={})
    assert len(grid.columns) == 14
    sunday = grid.days[-1].columns[0]
    assert sunday.cells[0].start == ts(la(2027, 3, 14, 9))  # 09:00 after the change, not 08:00 or 10:00
    assert all(len(row.cells) == 14 for row in grid.rows)


# --- the page -------------------------------------------------------------------------------------------


@pytest.fixture
def hours(provider, other_provider, room):
    work(provider, room)
    work(other_provider, room)


def book(*, room, front_desk, member, provider, start):
    return services.appointment_book(
        account=room.account, actor=front_desk, room_code=room.code, member_code=member.code,
        start=start, end=start + dt.timedelta(minutes=15), provider_id=provider.pk,
    )  # fmt: skip


@pytest.mark.usefixtures("clock")
def test_the_page_shows_every_provider_free_gaps_and_appointments(
    client, front_desk, room, consultation, hours, provider, other_provider, member
):
    idle = ProviderFactory(account=room.account, rooms=[room], user__last_name="Idle")
    visit = book(room=room, front_desk=front_desk, member=member, provider=provider, start=la(2027, 3, 8, 10))
    gone = book(
        room=room, front_desk=front_desk, member=member, provider=other_provider, start=la(2027, 3, 8, 11)
    )
    services.appointment_cancel(
        account=room.account, actor=front_desk, visit_id=gone.pk, reason="Feels better"
    )
    client.force_login(front_desk)
    page = client.get("/scheduling/calendar/", {"room": room.pk, "day": "2027-03-08"}).content.decode()
    for name in (provider.display_name, other_provider.display_name, idle.display_name):
        assert f">{name}</th>" in page
    assert f'id="block-{visit.pk}"' in page and ">booked<" in page and "waiting" not in page
    assert "<s>Pat Jones</s>" in page and "Cancelled by" in page and "Feels better" in page
    free_link = f"provider={provider.pk}&amp;day=2027-03-08&amp;start={ts(la(2027, 3, 8, 9))}"
    assert free_link in page
    assert f"provider={provider.pk}&amp;day=2027-03-08&amp;start={ts(la(2027, 3, 8, 10))}" not in page


@pytest.mark.usefixtures("clock")
def test_the_page_shows_a_slot_held_for_the_waitlist_instead_of_a_free_one(
    client, front_desk, room, consultation, hours, provider
):
    start = la(2027, 3, 8, 10)
    held = services.slot_hold_create(
        account=room.account, room=room, provider=provider, start=start, end=start + dt.timedelta(minutes=15),
        expires=la(2027, 3, 8, 7, 15),
    )  # fmt: skip
    client.force_login(front_desk)
    query = {"room": room.pk, "day": "2027-03-08"}
    page = client.get("/scheduling/calendar/", query).content.decode()
    assert "Held for the waitlist until 07:15" in page
    assert f"provider={provider.pk}&amp;day=2027-03-08&amp;start={ts(start)}" not in page
    services.slot_hold_release(hold_id=held.pk)
    page = client.get("/scheduling/calendar/", query).content.decode()
    assert "Held for the waitlist" not in page
    assert f"provider={provider.pk}&amp;day=2027-03-08&amp;start={ts(start)}" in page


@pytest.mark.usefixtures("clock")
def test_moving_to_the_next_free_slot_and_to_a_taken_time(
    client, front_desk, room, consultation, hours, provider, other_provider, member
):
    visit = book(room=room, front_desk=front_desk, member=member, provider=provider, start=la(2027, 3, 8, 10))
    book(room=room, front_desk=front_desk, member=member, provider=provider, start=la(2027, 3, 8, 10, 15))
    client.force_login(front_desk)
    url = f"/scheduling/calendar/{visit.pk}/move/"
    asked = client.post(url, {"next_free": "on"})
    assert asked.status_code == 200
    question = asked.content.decode()
    assert (
        "Move Pat Jones from Mon 08 Mar, 10:00 with Dr. Lee to Mon 08 Mar, 10:30 with Dr. Lee?" in question
    )  # 10:15 is taken
    assert f'name="start" value="{ts(la(2027, 3, 8, 10, 30))}"' in question
    visit.refresh_from_db()
    assert visit.start == la(2027, 3, 8, 10)  # nothing moves before the answer
    moved = client.post(url, {"start": ts(la(2027, 3, 8, 10, 30)), "confirmed": "on"})
    assert moved.status_code == 200
    visit.refresh_from_db()
    assert visit.start == la(2027, 3, 8, 10, 30)
    assert "Moved Pat Jones to Mon 08 Mar, 10:30 with Dr. Lee" in moved.content.decode()
    asked = client.post(url, {"day": "2027-03-08", "time": "10:15"}).content.decode()
    assert "to Mon 08 Mar, 10:15 with Dr. Lee?" in asked
    taken = client.post(url, {"day": "2027-03-08", "time": "10:15", "confirmed": "on"})
    assert taken.status_code == 409
    assert "no longer available" in taken.content.decode()
    visit.refresh_from_db()
    assert visit.start == la(2027, 3, 8, 10, 30) and visit.status == VisitStatus.WAITING
    dropped = client.post(
        f"/scheduling/calendar/{visit.pk}/move/",
        {"start": ts(la(2027, 3, 8, 13)), "provider": other_provider.pk, "confirmed": "on"},
    )
    assert dropped.status_code == 200
    visit.refresh_from_db()
    assert (visit.start, visit.provider_id) == (la(2027, 3, 8, 13), other_provider.pk)
