from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.forms import StaffLoginForm


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = StaffLoginForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        login(request, form.user)
        return redirect(request.GET.get("next") or "home")
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
