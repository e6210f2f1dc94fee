import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic import selectors, services, session_limits
from clinic.forms import StaffLoginForm


def _safe_next(request) -> str | None:
    """Only a path of this site is followed after login: never another host or scheme, nor anything that
    cannot be a Location header (control characters)."""
    target = request.GET.get("next", "")
    if (
        target.startswith("/")
        and target.isprintable()
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return None


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = StaffLoginForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        login(request, form.user)
        return HttpResponseRedirect(_safe_next(request) or reverse("home"))
    return render(request, "clinic/login.html", {"form": form})


@require_POST
def logout_view(request):
    logout(request)
    return redirect("login")


@require_GET
@login_required
def home(request):
    """Each role lands on the page it works from."""
    user = request.user
    if user.is_provider:
        return redirect(reverse("visits:dashboard"))
    if user.has_perm("visits.view_all_visits"):
        return redirect(reverse("visits:admin-visits"))
    if user.has_perm("visits.book_appointment"):
        return redirect(reverse("scheduling:booking"))
    if user.is_superuser:
        return redirect("admin:index")
    logout(request)
    return redirect("login")


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; send them to the static file."""
    return redirect(static("favicon.ico"))


def _session_state(request) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"idle_remaining": 0, "absolute_remaining": 0}, status=401)
    idle, absolute = session_limits.remaining(request.session, time.time())
    return JsonResponse({"idle_remaining": idle, "absolute_remaining": absolute})


@require_GET
def session_status(request):
    """What static/js/session.js asks (as a background request) before warning or leaving the page."""
    return _session_state(request)


@require_POST
def session_keepalive(request):
    """The warning's "Stay logged in": a request the user made, so the idle clock restarts."""
    if request.user.is_authenticated:
        request.session[session_limits.ACTIVE_AT] = time.time()
    return _session_state(request)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("clinic.unlock_login", raise_exception=True)
def lockouts(request):
    """Failed logins of the clinic's users, the locked ones first, with "Unlock" for each."""
    if request.user.account_id is None:  # a site superuser: axes' own pages in /admin/ are theirs
        raise PermissionDenied("This page is for a clinic's admins.")
    if request.method == "POST":
        who = services.login_lockout_clear(
            account=request.user.account, actor=request.user, attempt_id=request.POST.get("attempt", "")
        )
        messages.success(request, f"{who} can log in again.")
        return redirect("lockouts")
    return render(
        request,
        "clinic/lockouts.html",
        {
            "rows": selectors.login_lockouts(account=request.user.account),
            "limit": settings.AXES_FAILURE_LIMIT,
            "lockout_minutes": round(settings.AXES_COOLOFF_TIME.total_seconds() / 60),
            "zone_name": request.user.account.time_zone,
        },
    )
