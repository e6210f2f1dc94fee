"""Staff sessions: an idle timeout (requests the page makes by itself do not count), an absolute lifetime,
and the page's warning before the idle logout."""

import datetime as dt
import re

import pytest
import time_machine

pytestmark = pytest.mark.django_db

PAGE = "/scheduling/day/"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def desk(client, front_desk, clock):
    client.force_login(front_desk)
    return client


def _at(clock, minutes):
    clock.move_to(START + dt.timedelta(minutes=minutes))


def test_idle_for_the_timeout_logs_out_with_a_message(desk, clock):
    assert desk.get(PAGE).status_code == 200
    _at(clock, 31)
    response = desk.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/scheduling/day/"
    page = desk.get(response["Location"]).content.decode()
    assert "logged out after 30 minutes without activity" in page
    assert "_auth_user_id" not in desk.session


def test_activity_keeps_the_session(desk, clock):
    for minutes in (20, 40, 60, 80):
        _at(clock, minutes)
        assert desk.get(PAGE).status_code == 200


def test_background_requests_do_not_count_as_activity(desk, clock):
    _at(clock, 20)
    assert desk.get(PAGE, HTTP_X_BACKGROUND="1").status_code == 200  # the dashboard's polling, say
    _at(clock, 31)
    assert desk.get(PAGE, HTTP_X_BACKGROUND="1").status_code == 302


def test_an_open_live_stream_does_not_count_as_activity(desk, clock):
    _at(clock, 20)
    assert desk.get(PAGE, HTTP_ACCEPT="text/event-stream").status_code == 200  # EventSource reconnecting
    _at(clock, 31)
    assert desk.get(PAGE, HTTP_ACCEPT="text/event-stream").status_code == 302


def test_the_absolute_lifetime_ends_a_busy_session(desk, clock, settings):
    settings.SESSION_ABSOLUTE_LIFETIME = 3600
    for minutes in (20, 40, 59):
        _at(clock, minutes)
        assert desk.get(PAGE).status_code == 200
    _at(clock, 61)
    response = desk.get(PAGE)
    assert response.status_code == 302
    assert "a session lasts at most 1 hour." in desk.get(response["Location"]).content.decode()


def test_an_htmx_request_after_the_end_sends_the_whole_page_to_the_login(desk, clock):
    _at(clock, 31)
    response = desk.get(
        "/scheduling/patients/?q=x",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/scheduling/?date=2026-03-02",
    )
    assert response["HX-Redirect"] == "/login/?next=/scheduling/%3Fdate%3D2026-03-02"


def test_the_status_reads_without_extending_and_keepalive_extends(desk, clock):
    _at(clock, 10)
    state = desk.get("/session/", HTTP_X_BACKGROUND="1").json()
    assert state == {"idle_remaining": 20 * 60, "absolute_remaining": 12 * 3600 - 10 * 60}
    _at(clock, 29)
    assert desk.post("/session/keepalive/").json()["idle_remaining"] == 30 * 60
    _at(clock, 50)
    assert desk.get(PAGE).status_code == 200


def test_the_page_carries_the_warning_and_its_script(desk):
    page = desk.get(PAGE).content.decode()
    warning = re.search(r'<div id="session-warning"[^>]*>', page).group(0)
    assert 'data-idle-remaining="1800"' in warning and 'data-warn="120"' in warning
    assert "hidden" in warning
    assert "Stay logged in" in page
    assert '<script src="/static/js/session.js"></script>' in page


def test_the_login_page_has_no_session_warning(client):
    assert "session-warning" not in client.get("/login/").content.decode()


def test_an_idle_admin_site_session_goes_back_to_the_admin_login(client, clock):
    from clinic.models import User

    client.force_login(User.objects.create_superuser(username="root", password="x" * 20, email=""))
    assert client.get("/admin/").status_code == 200
    _at(clock, 31)
    response = client.get("/admin/clinic/room/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/clinic/room/"
