import datetime as dt

import factory

from scheduling.models import ScheduleException, WorkingHours

WEEKDAYS = range(5)
EVERY_DAY = range(7)


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingHours

    account = factory.SelfAttribute("provider.account")
    weekday = 0
    start_time = dt.time(9)
    end_time = dt.time(17)


class ScheduleExceptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScheduleException

    account = factory.SelfAttribute("provider.account")
    kind = ScheduleException.Kind.TIME_OFF
    end_date = factory.SelfAttribute("start_date")


def work(provider, room, days=WEEKDAYS, start=dt.time(9), end=dt.time(17)) -> list[WorkingHours]:
    """`provider` works in `room` on `days` (0 = Monday) from `start` to `end`, in the provider's zone."""
    return [
        WorkingHoursFactory(provider=provider, room=room, weekday=d, start_time=start, end_time=end)
        for d in days
    ]
