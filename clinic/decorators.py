"""View decorators shared by every app's pages."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import resolve_url
from django.utils.http import urlencode
from django_htmx.http import HttpResponseClientRedirect


def htmx_login_required(view):
    """login_required that also suits htmx: a fragment request (a poll, a button) whose session expired
    sends the whole page to the login form, back to the page it came from, instead of swapping the
    login page into a table cell."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx:
            page = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(
                f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': page})}"
            )
        return redirect_to_login(request.get_full_path())

    return wrapper
