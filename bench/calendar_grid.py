"""Calendar benchmark: the front desk's day grid (htmx refresh of `GET /scheduling/calendar/`) for the room of
bench/availability.py (50 providers, 5,000 appointments in the fortnight), against a rendering floor.

Data: the availability benchmark's database `clinic_bench_avail` (built by that script's code on the first
run). The day measured is Monday 2030-01-07: about 500 appointments, 52 rows of 15 minutes (the New York
providers start at 05:00 Los Angeles time), 50 columns.

Figures, in the same run and process, p50 over RUNS requests, interleaved, both logged in as front desk
through Django's test client (the whole middleware stack):
- the calendar partial (what the page's links and moves fetch), availability served from its cache as on
  any refresh after the first;
- the floor: a bare view rendering the same cells (same rows, same row spans, the same text in each) from
  a precomputed list through a one-loop template: what sending that table costs at the least;
- `ratio: N`, the calendar over the floor.

Usage: .venv/bin/python bench/calendar_grid.py [--rebuild]
"""

import os
import statistics
import time

# Sets Django up on clinic_bench_avail; its builders make the data. (Not named calendar.py: the script's
# folder comes first on sys.path, and the standard library's calendar module would be shadowed.)
import availability
from django.contrib.auth.decorators import login_required
from django.core.management import call_command
from django.http import HttpResponse
from django.template import engines
from django.test import Client, RequestFactory
from django.test.utils import override_settings
from django.urls import path

from clinic import urls as clinic_urls
from clinic.models import Account, Room, User
from clinic.roles import FRONT_DESK, ensure_role_groups
from scheduling import views

RUNS = 100
DAY = availability.FIRST_DAY

FLOOR_TEMPLATE = engines["django"].from_string(
    "<table>{% for row in rows %}<tr><th>{{ row.0 }}</th>{% for c in row.1 %}"
    '<td rowspan="{{ c.0 }}" class="{{ c.1 }}">{{ c.2 }}</td>{% endfor %}</tr>{% endfor %}</table>'
)


class Floor:
    rows: list = []


@login_required
def floor_view(request):
    return HttpResponse(FLOOR_TEMPLATE.render({"rows": Floor.rows}))


urlpatterns = [*clinic_urls.urlpatterns, path("bench-floor/", floor_view)]


def floor_rows(grid) -> list:
    """The grid's cells as plain (rowspan, class, text) triples: the patients' names and times in booked
    cells, the time in free ones."""
    return [
        (
            row.time,
            [
                (
                    cell.rows,
                    cell.kind,
                    " ".join(f"{b.time} {b.patient} {b.status}" for b in cell.blocks) or cell.label,
                )
                for cell in row.cells
            ],
        )
        for row in grid.rows
    ]


def main() -> None:
    call_command("migrate", verbosity=0)
    availability.build()
    availability.build_history()
    account = Account.objects.get(code="bench")
    room = Room.objects.get(account=account)
    desk = User.objects.create(account=account, username=f"bench-cal-{time.time_ns()}")
    desk.groups.add(ensure_role_groups()[FRONT_DESK])
    client = Client()
    client.force_login(desk)
    params = {"room": room.pk, "day": DAY.isoformat()}
    htmx = {"HX-Request": "true"}
    with override_settings(ROOT_URLCONF=__name__):
        assert client.get("/scheduling/calendar/", params, headers=htmx).status_code == 200
        request = RequestFactory().get("/scheduling/calendar/", params)
        request.user = desk
        grid = views._calendar_context(request, request.GET)["grid"]  # the same grid the view renders
        Floor.rows = floor_rows(grid)
        cells = sum(len(row.cells) for row in grid.rows)
        blocks = sum(len(c.blocks) for row in grid.rows for c in row.cells)
        for _ in range(3):  # warm both paths
            client.get("/scheduling/calendar/", params, headers=htmx)
            client.get("/bench-floor/")
        timings: dict[str, list[float]] = {"calendar": [], "floor": []}
        load_before = os.getloadavg()[0]
        for _ in range(RUNS):
            timings["calendar"].append(
                availability.timed(lambda: client.get("/scheduling/calendar/", params, headers=htmx))
            )
            timings["floor"].append(availability.timed(lambda: client.get("/bench-floor/")))
        load_after = os.getloadavg()[0]
        size = len(client.get("/scheduling/calendar/", params, headers=htmx).content)
    desk.delete()
    calendar, floor = (statistics.median(timings[k]) for k in ("calendar", "floor"))
    print(f"grid: {grid.providers} providers, {len(grid.rows)} rows, {cells} cells, {blocks} appointments")
    print(f"partial size: {size:,} bytes")
    print(f"calendar partial p50: {calendar * 1000:.1f} ms")
    print(f"floor p50: {floor * 1000:.1f} ms (bare view, same cells from a list, one-loop template)")
    print(f"ratio: {calendar / floor:.2f}")
    cores = os.cpu_count()
    print(f"load average (1 min): {load_before:.1f} before timing, {load_after:.1f} after, {cores} cores")


if __name__ == "__main__":
    main()
