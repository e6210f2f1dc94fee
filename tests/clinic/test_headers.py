"""Response headers: a Content-Security-Policy with no inline script (and no template that needs one),
Cache-Control: no-store on every API answer and on every page a logged-in user sees, Referrer-Policy."""

import re
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR, "templates")


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_pages_carry_a_policy_without_inline_script(client, front_desk):
    for response in (client.get("/login/"), _logged_in(client, front_desk).get("/scheduling/day/")):
        policy = _policy(response)
        assert policy["script-src"] == ["'self'"]
        assert policy["default-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert "'unsafe-inline'" not in policy["style-src"]


def test_the_api_docs_keep_script_to_files(client):
    for path in ("/api/v3/docs/", "/api/v3/redoc/"):
        response = client.get(path)
        assert response.status_code == 200
        policy = _policy(response)
        assert policy["script-src"] == ["'self'"], path
        assert not re.search(r"<script>|<script\s[^>]*>(?!</script>)\s*\S", response.content.decode()), path
    script = client.get("/api/v3/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_no_template_has_an_inline_script_or_event_handler():
    """Anything inline would be blocked by the policy: scripts are files under static/js. (The PDF
    templates are WeasyPrint's, never a browser's.)"""
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        if "pdf" in template.parts:
            continue
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag:
                offenders.append(f"{template.relative_to(TEMPLATES)}: {tag}")
        offenders += [f"{template.relative_to(TEMPLATES)}: {m}" for m in re.findall(r"\son[a-z]+\s*=", text)]
        offenders += [f"{template.relative_to(TEMPLATES)}: <style>" for _ in re.findall(r"<style\b", text)]
    assert offenders == []


def test_htmx_adds_no_inline_style_of_its_own(client):
    page = client.get("/login/").content.decode()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false}'>""" in page


def _logged_in(client, user):
    client.force_login(user)
    return client


def test_api_answers_are_never_stored(member_api, account):
    for response in (
        member_api.get("visits"),
        member_api.get("no/such/path"),
        member_api.post("users/login"),
    ):
        assert "no-store" in response["Cache-Control"], response.status_code


def test_logged_in_pages_are_never_stored(client, front_desk):
    _logged_in(client, front_desk)
    for path in ("/scheduling/day/", "/scheduling/"):
        assert "no-store" in client.get(path)["Cache-Control"], path


def test_patient_files_for_the_pages_are_never_stored(client, provider, member, room):
    """A page's thumbnail or attachment is patient data too, whatever the view set."""
    from tests.visits.attachment_factories import stored_attachment
    from tests.visits.factories import IntakeFactory

    intake = IntakeFactory(account=member.account, room=room, member=member)
    attachment = stored_attachment(user=member.user, intake=intake)
    _logged_in(client, provider.user)
    for path in (f"/attachments/{attachment.pk}/", f"/attachments/{attachment.pk}/thumbnail/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"], path
        assert "max-age=0" in response["Cache-Control"], path


def test_referrer_policy_is_same_origin(client, member_api):
    assert client.get("/login/")["Referrer-Policy"] == "same-origin"
    assert member_api.get("visits")["Referrer-Policy"] == "same-origin"
