"""Providers' secret calendar feed URLs: who stops being served, caching, guessing."""

from django.test import Client
from django.urls import reverse


def _feed_url(provider) -> str:
    page = Client()
    page.force_login(provider.user)
    return page.post(reverse("scheduling:feeds")).context["url"]


def test_the_feed_of_a_deactivated_provider_stops_at_once(provider):
    url = _feed_url(provider)
    assert Client().get(url).status_code == 200
    provider.user.is_active = False
    provider.user.save()
    assert Client().get(url).status_code == 404


def test_the_feed_is_not_cached_and_right_polls_never_count_as_guesses(provider, settings):
    settings.PUBLIC_PAGE_MISS_RATE = "2/min"
    url = _feed_url(provider)
    calendar_service = Client(REMOTE_ADDR="203.0.113.20")  # one address polling many feeds
    for _ in range(4):
        polled = calendar_service.get(url)
        assert polled.status_code == 200
    assert "no-store" in polled["Cache-Control"] and polled["Referrer-Policy"] == "same-origin"
    for n in range(2):
        assert calendar_service.get(f"/scheduling/feeds/guess{n}.ics").status_code == 404
    assert calendar_service.get(url).status_code == 429
