"""The front desk's waitlist page (entries, the offers made live, stop) and the patient's public offer page.

Times are shown in the room's zone. The live part (offers and entries) reloads when the page's event stream
says the room's waitlist changed, and polls while the stream is not open (static/js/live.js).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic import audit
from clinic.errors import ServiceError
from clinic.models import Room
from clinic.throttles import secret_url_page
from messaging.links import LinkInvalid
from push import streams
from scheduling.selectors import members_matching
from waitlist import selectors, services
from waitlist.forms import EntryForm
from waitlist.models import Offer

PAGE = "waitlist/waitlist.html"
OFFER = "waitlist/offer.html"
OFFERS_REFRESH_SECONDS = 5

book_required = permission_required("visits.book_appointment", raise_exception=True)


def _room(request) -> Room | None:
    rooms = Room.objects.for_account(request.user.account).filter(appointments_enabled=True)
    wanted = request.POST.get("room") or request.GET.get("room") or ""
    return (rooms.filter(pk=wanted).first() if wanted.isdigit() else None) or rooms.first()


def _patient(request, form: EntryForm):
    """The one patient the front desk means: an exact id, else a single match of the name."""
    query = form.cleaned_data["patient"].strip()
    found = list(members_matching(account=request.user.account, query=query, limit=5))
    exact = [m for m in found if m.code.lower() == query.lower()]
    if exact or len(found) == 1:
        return (exact or found)[0]
    form.add_error("patient", "No patient matches." if not found else "Several patients match: give the id.")
    return None


def _context(request, room: Room, form: EntryForm | None = None) -> dict:
    entries = list(selectors.waitlist_of_room(account=request.user.account, room=room)) if room else []
    can_hear = selectors.reachable([e.member for e in entries])
    for entry in entries:
        entry.unreachable = entry.member_id not in can_hear
    offers = list(selectors.recent_offers(account=request.user.account, room=room)) if room else []
    audit.audit_record_many(
        request, audit.Action.LIST, [e.member for e in entries] + [o.entry.member for o in offers]
    )
    return {
        "room": room,
        "rooms": Room.objects.for_account(request.user.account).filter(appointments_enabled=True),
        "form": form or (EntryForm(room=room) if room else None),
        "entries": entries,
        "offers": offers,
        "refresh_seconds": OFFERS_REFRESH_SECONDS,
    }


def _render(request, room, context, partial=None):
    with timezone.override(room.zone if room else timezone.get_current_timezone()):
        return render(request, f"{PAGE}#{partial}" if partial and request.htmx else PAGE, context)


@require_http_methods(["GET", "POST"])
@login_required
@book_required
def waitlist(request):
    room = _room(request)
    form = None
    if request.method == "POST" and room is not None:
        form = EntryForm(request.POST, room=room)
        member = _patient(request, form) if form.is_valid() else None
        if member is not None:
            data = form.cleaned_data
            try:
                entry = services.waitlist_entry_add(
                    account=request.user.account,
                    actor=request.user,
                    room=room,
                    member_code=member.code,
                    consultation=data["consultation"],
                    provider=data["provider"],
                    earliest=data["earliest"],
                    latest=data["latest"],
                    weekdays=data["weekdays"],
                    times_of_day=data["times_of_day"],
                    note=data["note"],
                )
            except ServiceError as exc:
                for field, errors in (exc.errors or {"patient": [exc.message]}).items():
                    form.add_error(field if field in form.fields else None, errors[0])
            else:
                audit.audit_record(request, audit.Action.UPDATE, entry.member, detail="added to the waitlist")
                messages.success(request, f"{member} is on the waitlist of {room.name}.")
                return redirect(f"{reverse('waitlist:page')}?room={room.pk}")
    return _render(request, room, _context(request, room, form))


@require_GET
@login_required
@book_required
def offers(request):
    """The live part of the page: offers made, their answers, and the entries still waiting."""
    room = _room(request)
    return _render(request, room, _context(request, room), partial="live")


@require_GET
async def events(request):
    """The waitlist page's event stream (async, under ASGI): which rooms' waitlists changed, never who."""
    return await streams.stream_response(
        request, audience_of=lambda user: selectors.waitlist_audience(user=user)
    )


@require_POST
@login_required
@book_required
def entry_remove(request, entry_id):
    room = _room(request)
    try:
        entry = services.waitlist_entry_remove(
            account=request.user.account, actor=request.user, entry_id=entry_id
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        audit.audit_record(request, audit.Action.UPDATE, entry.member, detail="removed from the waitlist")
        messages.success(request, f"{entry.member} is off the waitlist.")
    return redirect(f"{reverse('waitlist:page')}?room={room.pk if room else ''}")


@require_POST
@login_required
@book_required
def offers_stop(request, hold_id):
    room = _room(request)
    try:
        stopped = services.offers_stop(account=request.user.account, actor=request.user, hold_id=hold_id)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Offers stopped ({stopped} withdrawn); the slot is free to book.")
    return redirect(f"{reverse('waitlist:page')}?room={room.pk if room else ''}")


@secret_url_page
@require_http_methods(["GET", "POST"])
def offer(request, token):
    """The patient's page, opened from the offer's message without a login: GET shows the slot (the link
    is not used: mail scanners open links), POST accepts or declines it."""
    try:
        found = services.offer_by_link(token=token)
    except LinkInvalid as exc:
        return render(request, OFFER, {"error": exc.message}, status=exc.status_code)
    hold = found.hold
    context = {
        "room": hold.room,
        "provider": hold.provider,
        "start": hold.start,
        "end": hold.end,
        "expires": found.expires,
    }
    if found.status != Offer.Status.PENDING:
        context["error"] = services.offer_words(found)
    elif request.method == "POST" and request.POST.get("answer") not in ("accept", "decline"):
        context["error"] = "Choose Accept or No, thank you."
    elif request.method == "POST":
        who = audit.link_actor(request, account_id=found.account_id)
        try:
            if request.POST["answer"] == "accept":
                _, visit = services.offer_accept(token=token)
                audit.audit_record(who, audit.Action.CREATE, visit, detail="booked from a waitlist offer")
                context["booked"] = True
            else:
                services.offer_decline(token=token)
                audit.audit_record(
                    who, audit.Action.UPDATE, found.entry.member, detail="declined a waitlist offer"
                )
                context["declined"] = True
        except ServiceError as exc:
            context["error"] = exc.message
            found.refresh_from_db()
    context["open"] = found.status == Offer.Status.PENDING and not (
        context.get("booked") or context.get("declined")
    )
    with timezone.override(hold.room.zone):
        return render(request, OFFER, context)
