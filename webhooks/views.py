"""The clinic admin's webhooks page: endpoints (add, turn off and on, delete) and each one's delivery log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.timesince import timeuntil
from django.views.decorators.http import require_http_methods, require_POST

from clinic.errors import Conflict, ServiceError
from webhooks import selectors, services, transport
from webhooks.forms import EndpointForm
from webhooks.models import Delivery

LIST_PAGE = "webhooks/endpoints.html"
LOG_PAGE = "webhooks/endpoint.html"
LOG_PAGE_SIZE = 25


def admins_only(view):
    return login_required(permission_required(selectors.MANAGE_PERMISSION, raise_exception=True)(view))


def _list(request, form=None, **extra):
    endpoints = selectors.endpoints_list(account=request.user.account, actor=request.user)
    context = {"endpoints": endpoints, "form": form or EndpointForm(), **extra}
    return render(request, f"{LIST_PAGE}#endpoints" if request.htmx else LIST_PAGE, context)


@require_http_methods(["GET", "POST"])
@admins_only
def endpoints(request):
    """The list and the add form. A new endpoint's secret is in this one answer (never redirected to,
    never stored in the session), so it is shown once."""
    if request.method == "GET":
        return _list(request)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = services.endpoint_create(
                account=request.user.account, actor=request.user, **form.cleaned_data
            )
        except ServiceError as exc:
            for field, problems in (exc.errors or {"__all__": [exc.message]}).items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            return _list(request, created=endpoint)
    return _list(request, form=form)


def _done(request, message: str):
    if request.htmx:
        return _list(request, notice=message)
    messages.success(request, message)
    return redirect("webhooks:endpoints")


@require_POST
@admins_only
def endpoint_active(request, endpoint_id: int):
    active = request.POST.get("active") == "1"
    endpoint = services.endpoint_set_active(
        account=request.user.account, actor=request.user, endpoint_id=endpoint_id, active=active
    )
    return _done(request, f"{endpoint.url} is {'on' if active else 'off'}.")


@require_POST
@admins_only
def endpoint_delete(request, endpoint_id: int):
    endpoint = services.endpoint_delete(
        account=request.user.account, actor=request.user, endpoint_id=endpoint_id
    )
    return _done(request, f"{endpoint.url} was deleted with its delivery log.")


def _row(delivery: Delivery, now) -> Delivery:
    """Words for one log row: the event, the receiver's last answer, when the next try is."""
    delivery.event_label = delivery.get_event_type_display()
    delivery.answer = (
        transport.answer_words(status=delivery.last_response_status, error=delivery.last_error)
        if delivery.attempts
        else "Not sent yet"
    )
    if delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at:
        due = delivery.next_attempt_at
        delivery.next_try = "now" if due <= now else f"in {timeuntil(due, now)}"
    else:
        delivery.next_try = ""
    delivery.may_resend = delivery.status != Delivery.Status.SENDING
    return delivery


@require_http_methods(["GET"])
@admins_only
def endpoint_log(request, endpoint_id: int):
    endpoint = selectors.endpoint_get(
        account=request.user.account, actor=request.user, endpoint_id=endpoint_id
    )
    page = Paginator(selectors.deliveries_of(endpoint=endpoint), LOG_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    context = {"endpoint": endpoint, "page": page, "rows": [_row(d, now) for d in page.object_list]}
    return render(request, f"{LOG_PAGE}#log" if request.htmx else LOG_PAGE, context)


@require_POST
@admins_only
def delivery_resend(request, delivery_id: int):
    try:
        delivery = services.delivery_resend(
            account=request.user.account, actor=request.user, delivery_id=delivery_id
        )
        problem = ""
    except Conflict as exc:  # being sent right now, or its endpoint is off
        delivery = selectors.delivery_get(
            account=request.user.account, actor=request.user, delivery_id=delivery_id
        )
        problem = exc.message
    if not request.htmx:
        (messages.error if problem else messages.success)(request, problem or "Sent again.")
        return redirect("webhooks:endpoint", delivery.endpoint_id)
    context = {"delivery": _row(delivery, timezone.now()), "endpoint": delivery.endpoint, "problem": problem}
    return render(request, f"{LOG_PAGE}#delivery-row", context)
