"""Every page links the clinic's icon, and /favicon.ico (asked for by browsers regardless) finds it."""

from django.templatetags.static import static


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_pages_link_the_icon(client):
    assert f'rel="icon" href="{static("favicon.ico")}"' in client.get("/login/").content.decode()
