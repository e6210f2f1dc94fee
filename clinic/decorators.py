"""View decorators shared by every app's pages."""

from functools import wraps

from clinic.http import login_redirect


def htmx_login_required(view):
    """login_required that also suits htmx: a fragment request (a poll, a button) whose session expired
    sends the whole page to the login form, back to the page it came from, instead of swapping the
    login page into a table cell."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        return login_redirect(request)

    return wrapper
