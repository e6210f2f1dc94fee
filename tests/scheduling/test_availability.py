import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Room
from scheduling.models import ScheduleException
from scheduling.selectors import free_slots
from tests.clinic.factories import (
    AccountFactory,
    ConsultationFactory,
    ProviderFactory,
    RoomFactory,
)
from tests.conftest import V3Client, client_for
from tests.scheduling.conftest import NOW, la, ts
from tests.scheduling.factories import EVERY_DAY, ScheduleExceptionFactory, work
from tests.visits.factories import IntakeFactory, VisitFactory
from visits.models import VisitGroup, VisitStatus, VisitType

pytestmark = pytest.mark.usefixtures("clock")

MIDNIGHT = dt.time(0)
DAY = 86400


def starts(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [s["start"] for s in response.json()["data"]]


def local_hm(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, NOW.tzinfo).strftime("%a %H:%M")


@pytest.fixture
def all_day(provider, room):
    """The provider works round the clock every day: every 15-minute slot is free unless something says no."""
    return work(provider, room, days=EVERY_DAY, start=MIDNIGHT, end=MIDNIGHT)


def test_slots_follow_the_hours_the_consultation_length_and_the_room_grid(provider_api, provider, room):
    work(provider, room, days=[0], start=dt.time(9), end=dt.time(12))
    consultation = ConsultationFactory(room=room, duration=30 * 60)
    response = provider_api.get(
        "availability",
        {
            "room_code": "main",
            "consultation_id": consultation.pk,
            "start": ts(la(2027, 3, 8)),
            "end": ts(la(2027, 3, 9)),
        },
    )
    data = response.json()["data"]
    assert [local_hm(s["start"]) for s in data] == [
        f"Mon {h:02d}:{m:02d}" for h in (9, 10, 11) for m in (0, 15, 30, 45)
    ][:-1]  # 11:45 would end after 12:00
    assert all(s["end"] - s["start"] == 1800 and s["provider_ids"] == [provider.user_id] for s in data)


S = ts(la(2027, 3, 9, 10))  # Tuesday 10:00
E = ts(la(2027, 3, 12, 12))  # Friday 12:00
D = 2 * 3600
FOUR_DAYS = 4 * DAY


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (ts(NOW), ts(NOW) + FOUR_DAYS)),  # 1: available .. available + 4d
        ({"start": S}, (S, S + FOUR_DAYS)),  # 2
        ({"start": S, "end": E}, (S, E)),  # 3
        ({"start": S, "duration": D}, (S, S + D)),  # 4
        ({"end": E}, (E - FOUR_DAYS, E)),  # 5
        ({"end": E, "duration": D}, (E - D, E)),  # 6
        ({"duration": D}, (ts(NOW), ts(NOW) + D)),  # 7: available .. available + duration
        ({"start": S, "end": E, "duration": D}, (S, E)),  # 8: duration ignored
    ],
    ids=[f"row{n}" for n in range(1, 9)],
)
def test_the_seeds_time_range_table(member_api, all_day, params, expected):
    response = member_api.get("availability", {"room_code": "main", **params})
    data = response.json()["data"]
    lo, hi = expected
    assert data[0]["start"] == lo
    assert data[-1]["end"] == hi
    assert len(data) == (hi - lo) // 900


def test_available_is_the_first_free_slot_not_now(member_api, provider, room):
    work(provider, room, days=[2, 3])  # Wednesday and Thursday, 09-17
    row1 = starts(member_api.get("availability", {"room_code": "main"}))
    assert local_hm(row1[0]) == "Wed 09:00" and local_hm(row1[-1]) == "Thu 16:45"
    row7 = starts(member_api.get("availability", {"room_code": "main", "duration": 3600}))
    assert [local_hm(t) for t in row7] == ["Wed 09:00", "Wed 09:15", "Wed 09:30", "Wed 09:45"]


def test_end_before_start_and_overlong_ranges_are_400(member_api, all_day):
    backwards = member_api.get("availability", {"room_code": "main", "start": S, "end": S - 60})
    assert backwards.status_code == 400 and backwards.json()["errors"]["end"]
    too_long = member_api.get("availability", {"room_code": "main", "start": S, "duration": 90 * DAY})
    assert too_long.status_code == 400 and "days" in too_long.json()["message"]
    junk = member_api.get("availability", {"room_code": "main", "start": "tomorrow"})
    assert junk.status_code == 400 and junk.json()["code"] == 400


def test_booked_time_and_its_buffers_are_not_offered_and_cancelling_frees_it(
    member_api, all_day, provider, room
):
    Room.objects.filter(pk=room.pk).update(buffer_before=600, buffer_after=600)
    visit = VisitFactory(
        account=room.account,
        room=room,
        provider=provider,
        type=VisitType.SCHEDULED,
        start=la(2027, 3, 8, 10),
        end=la(2027, 3, 8, 10, 15),
        busy_start=la(2027, 3, 8, 9, 50),
        busy_end=la(2027, 3, 8, 10, 25),
    )
    window = {"room_code": "main", "start": ts(la(2027, 3, 8, 9)), "end": ts(la(2027, 3, 8, 11, 15))}
    assert [local_hm(t) for t in starts(member_api.get("availability", window))] == [
        "Mon 09:00",
        "Mon 09:15",
        "Mon 10:45",
        "Mon 11:00",
    ]
    visit.status = VisitStatus.CANCELLED
    visit.save()
    assert len(starts(member_api.get("availability", window))) == 9


def test_past_and_minimum_notice_are_not_offered(member_api, all_day, room):
    Room.objects.filter(pk=room.pk).update(min_notice=3600)
    # From Sunday: the past and the first hour from now (Monday 07:00) are not offered.
    got = starts(
        member_api.get(
            "availability", {"room_code": "main", "start": ts(la(2027, 3, 7)), "duration": 2 * DAY}
        )
    )
    assert local_hm(got[0]) == "Mon 08:00"
    assert local_hm(got[-1]) == "Mon 23:45"


def test_several_windows_a_day_and_a_window_across_midnight(member_api, provider, room):
    work(provider, room, days=[0], start=dt.time(9), end=dt.time(10))
    work(provider, room, days=[0], start=dt.time(13), end=dt.time(14))
    work(provider, room, days=[0], start=dt.time(23), end=dt.time(0, 30))
    got = starts(
        member_api.get(
            "availability", {"room_code": "main", "start": ts(la(2027, 3, 8)), "duration": DAY * 2}
        )
    )
    assert [local_hm(t) for t in got] == [
        *(f"Mon 09:{m:02d}" for m in (0, 15, 30, 45)),
        *(f"Mon 13:{m:02d}" for m in (0, 15, 30, 45)),
        *(f"Mon 23:{m:02d}" for m in (0, 15, 30, 45)),
        "Tue 00:00",
        "Tue 00:15",
    ]


def test_time_off_in_every_room_and_extra_hours_in_one(member_api, provider, room):
    work(provider, room)  # Monday to Friday, 09-17
    ScheduleExceptionFactory(
        provider=provider, room=None, start_date=dt.date(2027, 3, 9), end_date=dt.date(2027, 3, 10)
    )
    ScheduleExceptionFactory(
        provider=provider,
        room=room,
        kind=ScheduleException.Kind.EXTRA,
        start_date=dt.date(2027, 3, 13),
        start_time=dt.time(10),
        end_time=dt.time(11),
    )
    ScheduleExceptionFactory(  # a dentist's hour off on Thursday
        provider=provider,
        room=room,
        start_date=dt.date(2027, 3, 11),
        start_time=dt.time(12),
        end_time=dt.time(13),
    )
    got = [
        local_hm(t)
        for t in starts(
            member_api.get(
                "availability", {"room_code": "main", "start": ts(la(2027, 3, 8)), "duration": 7 * DAY}
            )
        )
    ]
    days = {label.split()[0] for label in got}
    assert days == {"Mon", "Thu", "Fri", "Sat"}
    assert "Thu 12:00" not in got and "Thu 12:45" not in got and "Thu 13:00" in got
    assert [t for t in got if t.startswith("Sat")] == ["Sat 10:00", "Sat 10:15", "Sat 10:30", "Sat 10:45"]


def test_provider_location_and_intake_filters(member_api, provider, other_provider, room, member):
    work(provider, room, days=[0])
    work(other_provider, room, days=[0])
    window = {"room_code": "main", "start": ts(la(2027, 3, 8, 9)), "end": ts(la(2027, 3, 8, 10))}
    both = member_api.get("availability", window).json()["data"]
    assert both[0]["provider_ids"] == sorted([provider.user_id, other_provider.user_id])
    only = member_api.get("availability", {**window, "provider_id": provider.user_id}).json()["data"]
    assert {tuple(s["provider_ids"]) for s in only} == {(provider.user_id,)}
    ny = member_api.get("availability", {**window, "location": "ny"}).json()["data"]
    assert {tuple(s["provider_ids"]) for s in ny} == {(other_provider.user_id,)}
    hour = ConsultationFactory(room=room, duration=3600)
    intake = IntakeFactory(account=room.account, room=room, member=member, location="NY", consultation=hour)
    by_intake = member_api.get(
        "availability", {"intake_id": str(intake.pk), "start": window["start"], "duration": 3600 * 8}
    )
    data = by_intake.json()["data"]
    assert data[0]["end"] - data[0]["start"] == 3600
    assert {tuple(s["provider_ids"]) for s in data} == {(other_provider.user_id,)}
    assert member_api.get("availability", {**window, "location": "XX"}).status_code == 400


def test_group_visits_and_appointments_in_other_rooms_hold_the_provider(
    member_api, provider, room, consultation
):
    work(provider, room, days=[0])
    other_room = RoomFactory(account=room.account, code="annex")
    provider.rooms.add(other_room)
    VisitGroup.objects.create(
        account=room.account,
        room=room,
        consultation=ConsultationFactory(room=room, capacity=5, duration=3600),
        provider=provider,
        start=la(2027, 3, 8, 10),
        end=la(2027, 3, 8, 11),
        capacity=5,
    )
    VisitFactory(
        account=room.account,
        room=other_room,
        provider=provider,
        type=VisitType.SCHEDULED,
        start=la(2027, 3, 8, 12),
        end=la(2027, 3, 8, 12, 15),
        busy_start=la(2027, 3, 8, 12),
        busy_end=la(2027, 3, 8, 12, 15),
    )
    got = [
        local_hm(t)
        for t in starts(
            member_api.get(
                "availability", {"room_code": "main", "start": ts(la(2027, 3, 8)), "duration": DAY}
            )
        )
    ]
    assert "Mon 09:45" in got and "Mon 11:00" in got and "Mon 12:15" in got
    assert not {"Mon 10:00", "Mon 10:45", "Mon 12:00"} & set(got)


@pytest.mark.parametrize(
    ("first_day", "switch_day"),
    [(dt.date(2027, 3, 13), dt.date(2027, 3, 14)), (dt.date(2027, 11, 6), dt.date(2027, 11, 7))],
    ids=["spring-forward", "fall-back"],
)
def test_dst_keeps_wall_clock_hours_and_no_slot_vanishes_or_doubles(
    member_api, provider, room, first_day, switch_day
):
    work(provider, room, days=EVERY_DAY)  # 09:00-17:00 every day
    work(
        provider, room, days=[5], start=dt.time(22), end=dt.time(6)
    )  # Saturday night shift, across the switch
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=NOW.tzinfo)
    end = dt.datetime.combine(first_day + dt.timedelta(days=3), dt.time(0), tzinfo=NOW.tzinfo)
    got = starts(member_api.get("availability", {"room_code": "main", "start": ts(start), "end": ts(end)}))
    assert len(got) == len(set(got))
    local = [dt.datetime.fromtimestamp(t, NOW.tzinfo) for t in got]
    for offset in range(3):
        day = first_day + dt.timedelta(days=offset)
        daytime = [t for t in local if t.date() == day and 9 <= t.hour < 17]
        assert daytime[0].strftime("%H:%M") == "09:00" and daytime[-1].strftime("%H:%M") == "16:45"
        assert len(daytime) == 32
    night = [t for t in local if t.hour >= 22 or t.hour < 6]
    # 22:00 to 06:00 across the switch is 7 hours in spring and 9 in autumn: every real quarter-hour once.
    hours = 7 if switch_day.month == 3 else 9
    assert len(night) == hours * 4
    assert night[0].strftime("%a %H:%M") == "Sat 22:00" and night[-1].strftime("%a %H:%M") == "Sun 05:45"


def test_provider_in_another_zone_keeps_their_own_wall_clock(member_api, room, account):
    east = ProviderFactory(account=account, rooms=[room])
    east.time_zone = "America/New_York"
    east.save()
    work(east, room, days=[0])
    got = starts(
        member_api.get("availability", {"room_code": "main", "start": ts(la(2027, 3, 8)), "duration": DAY})
    )
    assert (
        local_hm(got[0]) == "Mon 07:00"
    )  # 09:00 in New York is 06:00 in LA, but it is 07:00 now (past is gone)
    assert local_hm(got[-1]) == "Mon 13:45"  # 17:00 New York


def test_query_count_does_not_grow_with_span_or_providers(member_api, account, room, provider):
    work(provider, room, days=[0])
    with CaptureQueriesContext(connection) as small:
        member_api.get("availability", {"room_code": "main", "start": ts(la(2027, 3, 8)), "duration": DAY})
    for _ in range(15):
        p = ProviderFactory(account=account, rooms=[room])
        work(p, room, days=EVERY_DAY)
        ScheduleExceptionFactory(provider=p, room=None, start_date=dt.date(2027, 3, 10))
        VisitFactory(
            account=account,
            room=room,
            provider=p,
            type=VisitType.SCHEDULED,
            start=la(2027, 3, 9, 10),
            end=la(2027, 3, 9, 10, 15),
            busy_start=la(2027, 3, 9, 10),
            busy_end=la(2027, 3, 9, 10, 15),
        )
    with CaptureQueriesContext(connection) as large:
        response = member_api.get(
            "availability", {"room_code": "main", "start": ts(la(2027, 3, 8)), "duration": 30 * DAY}
        )
    assert len(response.json()["data"]) > 900
    assert len(large) == len(small)


def test_availability_query_count_is_fixed(django_assert_max_num_queries, member, room, provider):
    for p in [provider, *(ProviderFactory(account=room.account, rooms=[room]) for _ in range(10))]:
        work(p, room, days=EVERY_DAY)
    # Hours and exceptions in one query, bookings and group visits in another, for any span or provider count.
    with django_assert_max_num_queries(2):
        slots = free_slots(room=room, slot_length=900, start=la(2027, 3, 8), end=la(2027, 3, 22))
    assert len(slots) == 14 * 32 and len(slots[0].provider_ids) == 11


def test_api_key_needs_room_start_end_and_consultation(key_api, provider, room, consultation):
    work(provider, room, days=[0])
    missing = key_api.get("availability", {"room_code": "main"})
    assert missing.status_code == 400
    assert set(missing.json()["errors"]) == {"start", "end", "consultation_id"}
    assert "start, end, consultation_id" in missing.json()["message"]
    full = {
        "room_code": "main",
        "start": ts(la(2027, 3, 8, 9)),
        "end": ts(la(2027, 3, 8, 10)),
        "consultation_id": consultation.pk,
    }
    assert len(starts(key_api.get("availability", full))) == 4
    assert starts(key_api.get("availability", {**full, "location": "TX"})) == []


def test_no_credentials_and_other_clinics_rooms(account, room, provider):
    assert V3Client(account.code).get("availability", {"room_code": "main"}).status_code == 401
    other = AccountFactory(code="other")
    stranger = ProviderFactory(account=other, rooms=[RoomFactory(account=other, code="theirs")])
    response = client_for(stranger.user).get("availability", {"room_code": "main"})
    assert response.status_code == 404 and response.json()["errors"]["room_code"]


def appointment(room, provider, start: dt.datetime, minutes: int = 15):
    """A booked appointment whose busy range carries the room's buffers, as the booking service writes it."""
    end = start + dt.timedelta(minutes=minutes)
    return VisitFactory(
        account=room.account,
        room=room,
        provider=provider,
        type=VisitType.SCHEDULED,
        start=start,
        end=end,
        busy_start=start - dt.timedelta(seconds=room.buffer_before),
        busy_end=end + dt.timedelta(seconds=room.buffer_after),
    )


def test_touching_bookings_time_off_over_one_and_a_gap_of_exactly_one_slot(member_api, provider, room):
    work(provider, room, days=[0], start=dt.time(9), end=dt.time(13))
    Room.objects.filter(pk=room.pk).update(buffer_before=300, buffer_after=300)
    room.refresh_from_db()
    appointment(room, provider, la(2027, 3, 8, 10))  # busy 09:55-10:20
    appointment(room, provider, la(2027, 3, 8, 10, 25))  # busy 10:20-10:45: touches the one before
    appointment(room, provider, la(2027, 3, 8, 12, 20))  # busy 12:15-12:40
    ScheduleExceptionFactory(
        provider=provider,
        room=room,
        start_date=dt.date(2027, 3, 8),
        start_time=dt.time(10, 30),
        end_time=dt.time(11, 30),
    )
    got = starts(
        member_api.get("availability", {"room_code": "main", "start": ts(la(2027, 3, 8)), "duration": DAY})
    )
    # A slot t is busy over [t - 5 min, t + 20 min). 09:30 ends its buffer at 09:55 as the first booking's
    # begins; 11:45 fits between the time off and 12:15; 12:45 starts its buffer as the last booking ends.
    assert [local_hm(t) for t in got] == [
        "Mon 09:00",
        "Mon 09:15",
        "Mon 09:30",
        "Mon 11:30",
        "Mon 11:45",
        "Mon 12:45",
    ]
