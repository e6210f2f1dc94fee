import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from clinic.models import Account, Member, Provider, Room, User
from messaging.models import Channel
from messaging.selectors import has_consent
from messaging.services import consent_record
from reminders.models import ReminderPlan

pytestmark = pytest.mark.django_db


def test_production_mode_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["DJANGO_ENV"] = "production"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_the_default_filesystem_broker_keeps_all_its_folders_under_var(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DATABASE_URL")}
    script = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.CELERY_BROKER_TRANSPORT_OPTIONS))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, cwd=tmp_path
    )
    options = json.loads(result.stdout)
    folders = [
        options[name] for name in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
    ]
    var = str(settings.BASE_DIR / "var")
    assert all(folder.startswith(var) for folder in folders), folders


def test_seed_demo_is_idempotent_and_loads_the_demo_clinic(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    account = Account.objects.get(code="demo")
    room = Room.objects.get(account=account, code="main")
    assert (room.time_zone, room.max_waiting_time, room.walkins_enabled) == (
        "America/Los_Angeles",
        1800,
        True,
    )
    assert sorted(c.duration for c in room.consultations.all()) == [900, 1800, 3600]
    assert room.consultations.get(capacity=5)
    lee = Provider.objects.get(user__account=account, user__username="dr.lee")
    patel = Provider.objects.get(user__account=account, user__username="dr.patel")
    assert lee.licensed_states == ["CA"] and patel.licensed_states == ["CA", "NY"]
    assert Member.objects.get(account=account, code="P-1001").user.username == "pat.jones"
    assert User.objects.filter(account=account).count() == 5
    assert User.objects.get(account=account, username="frontdesk").check_password("demo")


def test_seed_demo_gives_the_clinic_reminder_times_and_pat_consent_once():
    call_command("seed_demo")
    account = Account.objects.get(code="demo")
    plan = ReminderPlan.objects.get(account=account, room=None)
    assert (plan.offsets, plan.quiet_start, plan.quiet_end) == ([1440, 120], dt.time(21), dt.time(8))
    pat = Member.objects.get(account=account, code="P-1001")
    assert has_consent(pat, Channel.EMAIL) and not has_consent(pat, Channel.SMS)
    # What the clinic changed since is left as it is by seeding again, and nothing is added twice.
    plan.offsets = [60]
    plan.save()
    consent_record(patient=pat, channel=Channel.EMAIL, granted=False, source="front desk")
    call_command("seed_demo")
    assert ReminderPlan.objects.get(account=account).offsets == [60]
    assert not has_consent(pat, Channel.EMAIL) and pat.consents.count() == 2


def test_seed_demo_under_another_account_keeps_the_clinics_apart():
    call_command("seed_demo")
    call_command("seed_demo", account="other")
    assert User.objects.filter(username="dr.lee").count() == 2
    assert Room.objects.filter(code="main").count() == 2


def test_issue_token_prints_a_token_for_that_user(capsys):
    call_command("seed_demo")
    capsys.readouterr()
    call_command("issue_token", account="demo", user="pat.jones")
    token = capsys.readouterr().out.strip()
    from tests.conftest import V3Client

    assert V3Client("demo", token).get("visits").status_code == 200


def test_issue_api_key_prints_a_working_pair(capsys):
    call_command("seed_demo")
    capsys.readouterr()
    call_command("issue_api_key", account="demo")
    lines = dict(line.split(": ") for line in capsys.readouterr().out.strip().splitlines())
    from tests.conftest import V3Client

    api = V3Client("demo", api_key=(lines["X-ApiKey"], lines["X-ApiSecret"]))
    assert api.post("users/sso", {"first_name": "A", "last_name": "B", "code": "z"}).status_code == 200


def test_openapi_schema_is_served_and_names_every_endpoint(client):
    response = client.get(reverse("api-schema"))
    assert response.status_code == 200
    text = response.content.decode()
    for path in [
        "/api/v3/intakes:",
        "/api/v3/visits/add_walkin:",
        "/api/v3/visits/accept:",
        "/api/v3/users/sso:",
        "/api/v3/rooms/{room_code}:",
    ]:
        assert path in text
    assert "X-AccountCode" in text


def test_api_docs_page_renders_offline(client):
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    assert "cdn" not in response.content.decode().lower()
