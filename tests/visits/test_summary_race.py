"""Two workers rendering the same visit at once store one file under the stable name."""

import datetime as dt
import shutil
import threading

import pytest
from django.db import connection

from tests.visits.summary_factories import media, walk_through  # noqa: F401
from visits.models import VisitSummary
from visits.summaries import render as summary_pdf
from visits.summaries import services as summary_services

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media"),
    # SQLite serialises writers by locking whole tables: the overlap under test cannot happen there.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the race is decided by PostgreSQL"),
]


def test_simultaneous_renders_write_once(monkeypatch, settings, account, room, member, provider):
    visit = walk_through(
        member=member, provider=provider, room=room, joined=dt.datetime(2026, 4, 1, 16, tzinfo=dt.UTC)
    )
    VisitSummary.objects.filter(visit=visit).delete()
    # A render the completion may have run already (an eager Celery left on by another test) left its file.
    shutil.rmtree(settings.MEDIA_ROOT / "summaries", ignore_errors=True)
    both_rendered = threading.Barrier(2, timeout=30)
    render = summary_pdf.render_summary_pdf

    def render_then_wait(v):
        pdf = render(v)
        both_rendered.wait()  # neither stores until both have rendered: the worst overlap
        return pdf

    monkeypatch.setattr(summary_services, "render_summary_pdf", render_then_wait)
    results, errors = [], []

    def worker():
        try:
            results.append(summary_services.summary_render(visit_id=visit.pk))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    summary = VisitSummary.objects.get(visit=visit)
    assert summary.status == VisitSummary.Status.READY
    assert summary.file.name.startswith(f"summaries/{account.pk}/")
    stored = sorted(p.name for p in (settings.MEDIA_ROOT / "summaries" / str(account.pk)).iterdir())
    assert stored == [summary.file.name.rsplit("/", 1)[1]]  # one file: the second render stored nothing
    assert {r.rendered for r in results} == {summary.rendered}  # the second found the first's and kept it
