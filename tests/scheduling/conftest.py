import datetime as dt
import zoneinfo

import pytest
import time_machine

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
# Monday 8 March 2027, 07:00 in Los Angeles: a week before the spring DST change.
NOW = dt.datetime(2027, 3, 8, 7, 0, tzinfo=LA)


def la(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LA)


def ts(value: dt.datetime) -> int:
    return int(value.timestamp())


@pytest.fixture
def clock():
    """Frozen at NOW; autouse in the modules that want it, so tokens are issued on the same clock."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
