"""DJANGO_ENV=production end to end: the deploy checks, collected static files with hashed names, and
every page of the demo clinic answering 200 with DEBUG off; errors are styled pages (JSON on /api/)."""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import path

from clinic import urls as clinic_urls
from clinic.models import Room, User
from tests.visits.factories import VisitFactory

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "kq3v7c0z9w-production-test-key-8f1b6e2d4a5c7e9g0h2j4l6n8p0r2t4v6x8z",
    "DJANGO_ALLOWED_HOSTS": "clinic.example.com",
}


def production(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **PRODUCTION_ENV, **extra_env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def warnings_of(result: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"\((\w+\.\w+)\)", result.stdout + result.stderr))


def test_check_deploy_leaves_only_what_the_tls_proxy_provides():
    result = production("check", "--deploy")
    assert result.returncode == 0, result.stderr
    # HTTPS redirect and HSTS: the proxy's job unless the settings below turn them on here.
    assert warnings_of(result) == {"security.W004", "security.W008"}


def test_check_deploy_is_clean_with_hsts_and_redirect_turned_on():
    result = production(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECURE_SSL_REDIRECT="true",
        DJANGO_SECURE_HSTS_SECONDS="31536000",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        DJANGO_SECURE_HSTS_PRELOAD="true",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert warnings_of(result) == set()


def test_production_settings_serve_compressed_hashed_static_files_and_trust_the_proxy():
    script = (
        "from clinic import settings as s; "
        "print(s.DEBUG, s.STORAGES['staticfiles']['BACKEND'], s.SECURE_PROXY_SSL_HEADER, s.STATIC_ROOT)"
    )
    env = {**os.environ, **PRODUCTION_ENV, "DJANGO_VAR_DIR": "/srv/clinic"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert result.stdout.split() == [
        "False",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "/srv/clinic/staticfiles",
    ]


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory):
    """collectstatic as production runs it, with the manifest of hashed names (WhiteNoise's
    compression, 30 s of CPU on top, is left out): a static file referring to one that does not exist
    (a vendored file's source map) fails here as it failed production's start-up."""
    root = tmp_path_factory.mktemp("staticfiles")
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with override_settings(STATIC_ROOT=root, STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    return root, storages


@pytest.fixture
def production_client(collected_static, db):
    root, storages = collected_static
    with override_settings(
        DEBUG=False,
        STATIC_ROOT=root,
        STORAGES=storages,
        WHITENOISE_USE_FINDERS=False,
        ALLOWED_HOSTS=["clinic.example.com"],
    ):
        client = Client(HTTP_HOST="clinic.example.com")
        client.raise_request_exception = False
        yield client


def demo_user(username: str) -> User:
    return User.objects.get(account__code="demo", username=username)


def test_every_page_of_the_demo_clinic_answers_200_with_hashed_static_files(production_client):
    call_command("seed_demo", verbosity=0)
    room = Room.objects.get(account__code="demo", code="main")
    walkin = VisitFactory(account=room.account, room=room)
    pages = {
        None: ["/login/", "/api/v3/docs/", "/api/v3/redoc/", "/admin/login/"],
        "dr.lee": ["/dashboard/", f"/dashboard/visits/{walkin.pk}/"],
        "frontdesk": ["/scheduling/", "/scheduling/day/"],
        "admin": ["/manage/visits/", "/manage/visits/downloads/", "/scheduling/hours/"],
    }
    for username, urls in pages.items():
        production_client.logout()
        if username:
            production_client.force_login(demo_user(username))
        for url in urls:
            response = production_client.get(url)
            assert response.status_code == 200, (username, url, response.status_code)

    page = production_client.get("/manage/visits/").content.decode()
    css = re.search(r'href="(/static/vendor/bootstrap/bootstrap\.min\.[0-9a-f]{12}\.css)"', page)
    assert css, "the stylesheet is not linked by its hashed name"
    served = production_client.get(css.group(1))
    assert served.status_code == 200
    assert "immutable" in served["Cache-Control"]
    assert b"sourceMappingURL" not in b"".join(served.streaming_content)


def test_errors_are_styled_pages_and_json_on_the_api(production_client):
    call_command("seed_demo", verbosity=0)
    production_client.force_login(demo_user("dr.lee"))

    missing = production_client.get("/no-such-page/")
    assert missing.status_code == 404
    assert "This page does not exist" in missing.content.decode()
    assert "Back to the start page" in missing.content.decode()

    forbidden = production_client.get("/manage/visits/")  # a provider is not a clinic admin
    assert forbidden.status_code == 403
    assert "You are not allowed to do that" in forbidden.content.decode()

    api_missing = production_client.get("/api/v3/no-such-endpoint", HTTP_X_ACCOUNTCODE="demo")
    assert api_missing.status_code == 404
    assert api_missing.json() == {"code": 404, "message": "Not found."}


def _bug(request):
    raise RuntimeError("a bug")


# The site's URLs plus two that fail, for the 500 test below (this module is its ROOT_URLCONF).
urlpatterns = [path("boom/", _bug), path("api/v3/boom", _bug), *clinic_urls.urlpatterns]
handler500 = clinic_urls.handler500


def test_a_server_error_is_a_standalone_page_and_json_on_the_api(production_client):
    with override_settings(ROOT_URLCONF=__name__):
        page = production_client.get("/boom/")
        api = production_client.get("/api/v3/boom")
    assert page.status_code == 500
    html = page.content.decode()
    assert "Something went wrong on our side" in html
    assert "a bug" not in html and "Traceback" not in html  # no traceback
    assert "<style>" not in html  # the CSP allows none: its stylesheet is a static file
    assert api.status_code == 500
    assert api.json() == {"code": 500, "message": "Internal error; it has been logged."}
