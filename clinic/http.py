from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import resolve_url
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect


def login_redirect(request):
    """To the login page, coming back here afterwards; an htmx request sends the whole page there,
    coming back to the page it was made from."""
    # Site users of /admin/ (no clinic) log in there, not on the staff page.
    admin = request.path_info.startswith(reverse("admin:index"))
    login_url = reverse("admin:login") if admin else resolve_url(settings.LOGIN_URL)
    if request.headers.get("HX-Request") == "true":
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        page = (current.path or "/") + (f"?{current.query}" if current.query else "")
        return HttpResponseClientRedirect(redirect_to_login(page, login_url).url)
    return redirect_to_login(request.get_full_path(), login_url)
