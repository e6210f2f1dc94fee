"""Every route that shows or changes patient data writes the audit trail (docs: README, "Audit trail").

The URL configuration is walked: each route is either in NO_PATIENT_DATA, with the reason, or has calls in
PATIENT_DATA that use it as a user allowed to, on real data. Each call must add audit events that name the
caller, the way it came (page or API) and the patients it showed or changed. A route in neither list fails
`test_every_route_is_classified`, so a new page or API view cannot skip the trail unnoticed.
"""

import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

import pytest
import time_machine
from django.contrib import admin
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from clinic.models import AuditEvent, Member
from clinic.services import api_credential_issue, api_token_issue
from messaging.links import link_issue
from reminders.selectors import link_object_id
from scheduling import services as scheduling_services
from tests.clinic.factories import (
    AccountFactory,
    ConsultationFactory,
    MemberFactory,
    ProviderFactory,
    RoomFactory,
    UserFactory,
    clinic_admin_user,
    front_desk_user,
)
from tests.conftest import V3Client, client_for
from tests.scheduling.conftest import NOW, la, ts
from tests.scheduling.factories import work
from tests.visits.attachment_factories import image_bytes, pdf_bytes, stored_attachment, upload
from tests.visits.factories import IntakeFactory, VisitFactory
from visits import lifecycle, services
from visits.models import SummaryDownload, SummaryExport, VisitStatus, VisitSummary
from visits.summaries.selectors import source_stamp
from waitlist import services as waitlist_services

# --- the URL configuration -------------------------------------------------------------------------------


def _routes(patterns=None, prefix: str = "", namespace: str = ""):
    """(key, route) of every URL pattern: the name with its namespace, or the route when it has none."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace or ""]))
            yield from _routes(entry.url_patterns, route, inner)
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}:{entry.name}" if namespace else entry.name) if entry.name else route, route


NO_PATIENT_DATA = {
    "home": "redirects each role to its page",
    "favicon": "a redirect to a static file",
    "login": "the login form",
    "logout": "logs out",
    "visits:admin-export": "starts a ZIP export: nothing is shown until its download, which is recorded",
    "visits:admin-export-status": "the export's progress counts",
    "visits:admin-summary-request": "starts a PDF render; answers a button or a link",
    "visits:admin-summary-status": "a button or a link to the PDF, whose download is recorded",
    "scheduling:booking": "free slots and providers",
    "scheduling:pick": "one free slot and its providers",
    "scheduling:hours": "providers' working hours",
    "scheduling:feeds": "the provider's own calendar feed URL",
    "scheduling:feed": "a provider's visits as kind, length and room: no patient data (tested)",
    "waitlist:offers-stop": "withdraws a slot's offers; answers a redirect",
    "link_waitlist_offer": "the patient's own offer through its link: a slot, no name; accepting and "
    "declining are recorded as the patient via the link (tests/waitlist/test_pages.py)",
    "api-schema": "the OpenAPI schema",
    "api-docs": "the API's documentation",
    "api-redoc": "the API's documentation",
    "users-login": "the caller's own name and tokens",
    "users-token-refresh": "the caller's own name and tokens",
    "rooms": "rooms",
    "room-detail": "a room, its providers' ids and consultations",
    "availability": "free slots (an intake_id given only lends its location and consultation)",
    "audit": "the trail itself, clinic admins only: reading it is not recorded again",
    "audit-csv": "the trail itself, clinic admins only: reading it is not recorded again",
    "audit-events": "the trail itself, clinic admins only: reading it is not recorded again",
    "account-detail": "the clinic's public card: name, time zone, rooms",
    "healthz": "liveness",
    "visits:events": "the live stream: which rooms changed, never who (the page then reloads a partial)",
    "waitlist:events": "the waitlist page's live stream: which rooms' waitlists changed, never who",
    "readyz": "readiness of the database and broker",
    "session-status": "the caller's own session clock",
    "session-keepalive": "the caller's own session clock",
    "users-logout": "revokes the caller's own token",
    "lockouts": "failed logins: usernames and addresses, no patient record",
    "webhooks": "the clinic's webhook endpoints",
    "webhook-detail": "one webhook endpoint",
    "webhooks:endpoints": "the clinic's webhook endpoints",
    "webhooks:endpoint": "an endpoint and its deliveries' statuses (not their bodies)",
    "webhooks:endpoint-active": "turns an endpoint on or off",
    "webhooks:endpoint-delete": "removes an endpoint",
    "webhooks:delivery-resend": "sends a delivery again; answers its status",
    "visits:notes-dismiss": 'hides the provider\'s own "Patient left" card; answers nothing',
}

# Django's admin site: the patient-data models' pages are audited (clinic.admin.AuditedAdmin); the rest is
# the site's own pages or models without patient data.
ADMIN_SITE_PAGES = {
    "admin:index": "the list of models",
    "admin:login": "the login form",
    "admin:logout": "logs out",
    "admin:password_change": "the superuser's own password form",
    "admin:password_change_done": "a confirmation",
    "admin:jsi18n": "translations",
    "admin:app_list": "the list of an app's models",
    "admin:autocomplete": "refused: no admin uses autocomplete fields, so it lists no patients",
    "admin:view_on_site": "a redirect",
    "admin/(?P<url>.*)$": "the catch-all: a redirect or a 404",
    # Django's UserAdmin names its password page so, whatever the user model.
    "admin:auth_user_password_change": "a password form naming the username",
}
AUDITED_ADMIN_MODELS = {
    "clinic.member",
    "clinic.user",
    "clinic.apitoken",
    "visits.visit",
    "visits.intake",
    "visits.attachment",
    "visits.visitsummary",
    "visits.summarydownload",
}
AUDITED_ADMIN_VIEWS = ("changelist", "change", "delete", "history")


def _admin_model_routes():
    """(key, model label, view) of each registered model's admin pages."""
    for model in admin.site._registry:
        label = model._meta.label_lower
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        for view in ("changelist", "add", "change", "delete", "history"):
            yield prefix + view, label, view


def _admin_classification() -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    allowed = dict(ADMIN_SITE_PAGES)
    audited = {}
    for key, label, view in _admin_model_routes():
        if label in AUDITED_ADMIN_MODELS and view in AUDITED_ADMIN_VIEWS:
            audited[key] = (label, view)
        elif label in AUDITED_ADMIN_MODELS:
            allowed[key] = (
                "an empty form, or a password form naming the username"
                if view != "add"
                else ("an empty form; saving it is recorded")
            )
        else:
            allowed[key] = f"{label}: no patient data"
    # The models' object URLs without a view name redirect to the change page.
    for model in admin.site._registry:
        allowed[f"admin/{model._meta.app_label}/{model._meta.model_name}/<path:object_id>/"] = "a redirect"
    return allowed, audited


# --- the data --------------------------------------------------------------------------------------------


@dataclass
class World:
    """One clinic as the calls need it; `clients` are made lazily per user."""

    objects: dict[str, Any]
    pages: dict[str, Client] = field(default_factory=dict)
    apis: dict[str, V3Client] = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.objects[name]
        except KeyError:
            raise AttributeError(name) from None

    def user(self, who: str):
        """The user acting as `who`: a staff user, or a patient's own user; None for the API key and for a
        patient's link (nobody logged in)."""
        if who in ("key", "link"):
            return None
        found = self.objects[who]
        return found.user if isinstance(found, Member) else found

    def page(self, who: str) -> Client:
        if who not in self.pages:
            self.pages[who] = Client()
            if who != "link":
                self.pages[who].force_login(self.user(who))
        return self.pages[who]

    def api(self, who: str) -> V3Client:
        if who not in self.apis:
            if who == "key":
                self.apis[who] = V3Client(self.account.code, api_key=self.objects["key_pair"])
            else:
                self.apis[who] = client_for(self.user(who))
        return self.apis[who]


@pytest.fixture(scope="module")
def built(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for the module, in a transaction rolled back at its end; each test runs in a savepoint
    of it (the `db` fixture), so a call that changes the data changes it for that test only."""
    media = tmp_path_factory.mktemp("media")
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=media),
        time_machine.travel(NOW, tick=True),
        transaction.atomic(),
    ):
        yield _build()
        transaction.set_rollback(True)


@pytest.fixture
def world(built, db):
    with time_machine.travel(NOW, tick=True):
        yield World(built)


def _build() -> dict[str, Any]:
    account = AccountFactory(code="acme")
    room = RoomFactory(account=account, code="main")
    consultation = ConsultationFactory(room=room)
    provider = ProviderFactory(account=account, rooms=[room], user__first_name="Grace", user__last_name="Lee")
    work(provider, room)  # Monday to Friday, 9 to 17
    pat = MemberFactory(account=account, first_name="Pat", last_name="Jones", code="P-1001")
    sam = MemberFactory(account=account, first_name="Sam", last_name="Reed", code="P-1002")
    desk, clinic_admin = front_desk_user(account), clinic_admin_user(account)

    # Pat is in a walk-in with Dr Lee, with a photo on the intake; Sam waits in the queue.
    intake = IntakeFactory(account=account, room=room, member=pat, consultation=consultation)
    attachment = stored_attachment(user=pat.user, intake=intake)
    current = services.visit_add_walkin(
        account=account, actor=pat.user, intake_id=intake.pk, room_code="main"
    )
    services.visit_accept(account=account, actor=provider.user, visit_id=current.pk)
    sam_intake = IntakeFactory(account=account, room=room, member=sam)
    queued = services.visit_add_walkin(
        account=account, actor=sam.user, intake_id=sam_intake.pk, room_code="main"
    )
    # Pat's earlier visit: completed, its PDF summary stored, downloaded once and in a ready ZIP export.
    done = VisitFactory(
        account=account,
        room=room,
        intake=IntakeFactory(account=account, room=room, member=pat),
        status=VisitStatus.COMPLETED,
        provider=provider,
    )
    done = lifecycle.visit_refetch(done.pk)
    summary = VisitSummary(visit=done, status=VisitSummary.Status.READY, source_modified=source_stamp(done))
    summary.file.save("summary.pdf", ContentFile(pdf_bytes()), save=False)
    summary.save()
    download = SummaryDownload.objects.create(account=account, visit=done, user=clinic_admin)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("summary.pdf", pdf_bytes())
    export = SummaryExport(
        account=account,
        requested_by=clinic_admin,
        visit_ids=[done.pk],
        status=SummaryExport.Status.READY,
        total=1,
        done=1,
    )
    export.file.save("export.zip", ContentFile(zipped.getvalue()), save=False)
    export.save()
    # Pat's appointment at 10:00 today (Monday 8 March 2027, Los Angeles).
    appointment = scheduling_services.appointment_book(
        account=account,
        actor=desk,
        room_code="main",
        start=la(2027, 3, 8, 10),
        end=la(2027, 3, 8, 10, 15),
        provider_id=provider.pk,
        member_code=pat.code,
    )
    sam_waiting = waitlist_services.waitlist_entry_add(
        account=account, actor=desk, room=room, member_code=sam.code, consultation=consultation,
        earliest=dt.date(2027, 3, 8), latest=dt.date(2027, 3, 19),
    )  # fmt: skip
    superuser = UserFactory(account=None, is_superuser=True, is_staff=True)
    return {
        **locals(),
        "provider": provider.user,
        "admin": clinic_admin,
        "sam_spare": IntakeFactory(account=account, room=room, member=sam),
        "key_pair": api_credential_issue(account=account),
        "pat_token": _token(pat.user),
    }


def _token(user):
    api_token_issue(user=user)
    return user.api_tokens.get()


# --- the calls -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request as `who`, through a page (session) or the API (token or API key), and the patients
    (codes) whose data it shows or changes."""

    who: str
    method: str
    path: Any  # str, or a function of the world
    patients: tuple[str, ...]
    data: Any = None  # dict, or a function of the world
    api: bool = False
    htmx: bool = False
    multipart: bool = False


def page(who, method, path, patients, data=None, htmx=False):
    return Call(who, method, path, tuple(patients), data, htmx=htmx)


def api(who, method, path, patients, data=None, multipart=False):
    return Call(who, method, path, tuple(patients), data, api=True, multipart=multipart)


PAT, SAM = "P-1001", "P-1002"
MONDAY = "2027-03-08"


def _cancelled_url(w, action: str) -> str:
    """The URL of `action` on Pat's appointment, cancelled just now."""
    scheduling_services.appointment_cancel(
        account=w.account, actor=w.desk, visit_id=w.appointment.pk, reason="Phoned"
    )
    return f"/scheduling/calendar/{w.appointment.pk}/{action}/"


def _waitlist_entry(w, code):
    return {"room": w.room.pk, "patient": code, "consultation": w.consultation.pk, "earliest": MONDAY,
            "latest": "2027-03-19"}  # fmt: skip


def _booking(w):
    return {
        "room": w.room.pk,
        "consultation": w.consultation.pk,
        "provider": "",
        "day": MONDAY,
        "start": ts(la(2027, 3, 8, 9)),
        "book_provider": w.provider.provider.pk,
        "member": SAM,
    }


def _link(purpose: str):
    """A fresh link of the patient's appointment, as the messages carry them."""
    return lambda w: link_issue(
        purpose=purpose, obj_id=link_object_id(w.appointment), expires_at=w.appointment.start
    )


PATIENT_DATA = {
    # The patient's pages behind the links in their messages (no login: via "link").
    "link_appointment_confirm": [
        page("link", "get", _link("appointment_confirm"), [PAT]),
        page("link", "post", _link("appointment_confirm"), [PAT]),
    ],
    "link_appointment_cancel": [
        page("link", "get", _link("appointment_cancel"), [PAT]),
        page("link", "post", _link("appointment_cancel"), [PAT]),
    ],
    "link_appointment_reschedule": [
        page("link", "get", _link("appointment_reschedule"), [PAT]),
        page("link", "post", _link("appointment_reschedule"), [PAT], {"start": ts(la(2027, 3, 8, 11))}),
    ],
    # Pages
    "visits:attachment": [page("provider", "get", lambda w: f"/attachments/{w.attachment.pk}/", [PAT])],
    "visits:attachment-thumbnail": [
        page("provider", "get", lambda w: f"/attachments/{w.attachment.pk}/thumbnail/", [PAT])
    ],
    "visits:dashboard": [page("provider", "get", "/dashboard/", [PAT, SAM])],
    "visits:queues": [page("provider", "get", "/dashboard/queues/", [SAM], htmx=True)],
    "visits:in-progress": [page("provider", "get", "/dashboard/in-progress/", [PAT], htmx=True)],
    "visits:today": [page("provider", "get", "/dashboard/today/", [PAT], htmx=True)],
    "visits:detail": [page("provider", "get", lambda w: f"/dashboard/visits/{w.current.pk}/", [PAT])],
    "visits:queue-preview": [
        page("provider", "get", lambda w: f"/dashboard/visits/{w.queued.pk}/preview/", [SAM], htmx=True)
    ],
    "visits:accept": [page("provider", "post", "/dashboard/accept/", [SAM], lambda w: {"id": w.queued.pk})],
    "visits:notes-draft": [
        page(
            "provider", "post", lambda w: f"/dashboard/visits/{w.current.pk}/draft/", [PAT], {"notes": "Rash"}
        )
    ],
    "visits:notes-add": [
        page(
            "provider",
            "post",
            lambda w: f"/dashboard/visits/{w.done.pk}/notes/",
            [PAT],
            {"notes": "Healing"},
            htmx=True,
        )
    ],
    "visits:complete": [
        page(
            "provider",
            "post",
            lambda w: f"/dashboard/visits/{w.current.pk}/complete/",
            [PAT],
            {"notes": "Ok"},
        )
    ],
    "visits:close": [
        page(
            "provider",
            "post",
            lambda w: f"/dashboard/visits/{w.current.pk}/close/",
            [PAT],
            {"reason": "call_ended"},
        )
    ],
    "visits:admin-visits": [page("admin", "get", "/manage/visits/", [PAT, SAM])],
    "visits:admin-downloads": [page("admin", "get", "/manage/visits/downloads/", [PAT])],
    "visits:admin-export-download": [
        page("admin", "get", lambda w: f"/manage/visits/exports/{w.export.pk}/download/", [PAT])
    ],
    "visits:admin-summary-download": [
        page("admin", "get", lambda w: f"/manage/visits/{w.done.pk}/summary.pdf", [PAT])
    ],
    "scheduling:patients": [page("desk", "get", "/scheduling/patients/", [PAT], {"q": "Jones"}, htmx=True)],
    "scheduling:patient-create": [
        page(
            "desk",
            "post",
            "/scheduling/patients/new/",
            ["P-2001"],
            {"code": "P-2001", "first_name": "Ada", "last_name": "New"},
            htmx=True,
        )
    ],
    "scheduling:patient-consent": [
        page("desk", "get", lambda w: f"/scheduling/patients/{w.pat.pk}/messages/", [PAT], htmx=True),
        page(
            "desk",
            "post",
            lambda w: f"/scheduling/patients/{w.pat.pk}/messages/",
            [PAT],
            {"consent_sms": "on"},
            htmx=True,
        ),
    ],
    "scheduling:book": [page("desk", "post", "/scheduling/book/", [SAM], _booking, htmx=True)],
    "scheduling:day": [
        page("desk", "get", "/scheduling/day/", [PAT], lambda w: {"room": w.room.pk, "day": MONDAY})
    ],
    "scheduling:reschedule": [
        page("desk", "get", lambda w: f"/scheduling/appointments/{w.appointment.pk}/reschedule/", [PAT]),
        page(
            "desk",
            "post",
            lambda w: f"/scheduling/appointments/{w.appointment.pk}/reschedule/",
            [PAT],
            {"start": ts(la(2027, 3, 8, 11))},
            htmx=True,
        ),
    ],
    "scheduling:cancel": [
        page(
            "desk",
            "post",
            lambda w: f"/scheduling/appointments/{w.appointment.pk}/cancel/",
            [PAT],
            {"reason": "Patient phoned"},
            htmx=True,
        )
    ],
    "waitlist:page": [
        page("desk", "get", "/waitlist/", [SAM]),
        page("desk", "post", "/waitlist/", [PAT], lambda w: _waitlist_entry(w, PAT)),
    ],
    "waitlist:offers": [page("desk", "get", "/waitlist/offers/", [SAM], htmx=True)],
    "waitlist:entry-remove": [
        page("desk", "post", lambda w: f"/waitlist/entries/{w.sam_waiting.pk}/remove/", [SAM])
    ],
    # API
    "users-sso": [
        api("key", "post", "users/sso", ["EXT-1"], {"code": "EXT-1", "first_name": "E", "last_name": "X"})
    ],
    "intakes": [api("pat", "post", "intakes", [PAT], {"room_code": "main", "reason_for_visit": "Cough"})],
    "intake-detail": [
        api("pat", "get", lambda w: f"intakes/{w.intake.pk}", [PAT]),
        api("pat", "post", lambda w: f"intakes/{w.intake.pk}", [PAT], {"reason_for_visit": "Worse"}),
    ],
    "files": [api("pat", "post", "files", [PAT], lambda w: {"file": upload("x.png", image_bytes())}, True)],
    "file-detail": [api("pat", "get", lambda w: f"files/{w.attachment.pk}", [PAT])],
    "visits": [
        api("pat", "get", "visits", [PAT]),
        api(
            "desk",
            "post",
            "visits",
            [SAM],
            lambda w: {
                "start": ts(la(2027, 3, 8, 9, 30)),
                "end": ts(la(2027, 3, 8, 9, 45)),
                "room_code": "main",
                "type": 2,
                "provider_id": w.provider.pk,
                "member_id": SAM,
            },
        ),
    ],
    "visits-add-walkin": [
        api(
            "sam",
            "post",
            "visits/add_walkin",
            [SAM],
            lambda w: {"intake_id": str(w.sam_spare.pk), "room_code": "main"},
        )
    ],
    "visits-add-econsult": [
        api(
            "sam",
            "post",
            "visits/add_econsult",
            [SAM],
            lambda w: {"intake_id": str(w.sam_spare.pk), "room_code": "main"},
        )
    ],
    "visits-accept": [api("provider", "post", "visits/accept", [SAM], lambda w: {"id": w.queued.pk})],
    "visits-complete": [api("provider", "post", "visits/complete", [PAT], lambda w: {"id": w.current.pk})],
    "visits-close": [
        api("provider", "post", "visits/close", [PAT], lambda w: {"id": w.current.pk, "reason": "call_ended"})
    ],
    "visits-delete": [api("admin", "post", "visits/delete", [SAM], lambda w: {"id": w.queued.pk})],
    "visits-current": [api("pat", "get", "visits/current", [PAT])],
    "users": [api("desk", "get", "users", [PAT, SAM], {"type": 200})],
    "user-detail": [api("desk", "get", lambda w: f"users/{w.pat.user_id}", [PAT])],
    "intake-addenda": [
        api("pat", "post", lambda w: f"intakes/{w.intake.pk}/addenda", [PAT], {"text": "Since Monday"})
    ],
    "visits:board": [page("desk", "get", "/board/", [PAT, SAM])],
    "scheduling:calendar": [
        page("desk", "get", lambda w: f"/scheduling/calendar/?room={w.room.pk}&day={MONDAY}", [PAT])
    ],
    "scheduling:calendar-move": [
        page("desk", "get", lambda w: f"/scheduling/calendar/{w.appointment.pk}/move/", [PAT]),
        page(
            "desk",
            "post",
            lambda w: f"/scheduling/calendar/{w.appointment.pk}/move/",
            [PAT],
            {"next_free": "on"},
        ),
        page(
            "desk",
            "post",
            lambda w: f"/scheduling/calendar/{w.appointment.pk}/move/",
            [PAT],
            {"start": ts(la(2027, 3, 8, 11)), "confirmed": "on"},
        ),
    ],
    "scheduling:calendar-cancel": [
        page(
            "desk",
            "post",
            lambda w: f"/scheduling/calendar/{w.appointment.pk}/cancel/",
            [PAT],
            {"reason": "Phoned"},
            htmx=True,
        )
    ],
    "scheduling:calendar-undo": [page("desk", "post", lambda w: _cancelled_url(w, "undo"), [PAT], htmx=True)],
    "visits:board-priority": [
        page("desk", "post", lambda w: f"/board/visits/{w.queued.pk}/priority/", [SAM], {"priority": "1"})
    ],
    "visits:board-requeue": [
        page("desk", "post", lambda w: f"/board/visits/{w.current.pk}/requeue/", [PAT], htmx=True)
    ],
    "visit-summary-export": [api("pat", "get", lambda w: f"visits/{w.done.pk}/exports/visit_summary", [PAT])],
    "visit-detail": [
        api("pat", "get", lambda w: f"visits/{w.current.pk}", [PAT]),
        api(
            "desk",
            "post",
            lambda w: f"visits/{w.appointment.pk}",
            [PAT],
            {"start": ts(la(2027, 3, 8, 11, 30)), "end": ts(la(2027, 3, 8, 11, 45))},
        ),
    ],
}

# The object each audited admin model's pages open.
ADMIN_OBJECTS = {
    "clinic.member": lambda w: w.pat,
    "clinic.user": lambda w: w.pat.user,
    "clinic.apitoken": lambda w: w.pat_token,
    "visits.visit": lambda w: w.current,
    "visits.intake": lambda w: w.intake,
    "visits.attachment": lambda w: w.attachment,
    "visits.visitsummary": lambda w: w.summary,
    "visits.summarydownload": lambda w: w.download,
}


def _admin_call(label: str, view: str) -> Call:
    app, model = label.split(".")

    def path(w):
        if view == "changelist":
            return f"/admin/{app}/{model}/"
        return f"/admin/{app}/{model}/{ADMIN_OBJECTS[label](w).pk}/{view}/"

    return page("superuser", "get", path, [PAT])


ALLOWED_ADMIN, AUDITED_ADMIN = _admin_classification()
CALLS = {**PATIENT_DATA, **{key: [_admin_call(*spec)] for key, spec in AUDITED_ADMIN.items()}}


def test_every_route_is_classified():
    keys = {key for key, _ in _routes()}
    classified = set(NO_PATIENT_DATA) | set(ALLOWED_ADMIN) | set(CALLS)
    assert sorted(keys - classified) == [], "routes nobody said whether they show patient data"
    assert sorted(classified - keys) == [], "classified routes that no longer exist"
    assert not set(NO_PATIENT_DATA) & set(CALLS)


def _send(w: World, call: Call):
    path = call.path(w) if callable(call.path) else call.path
    data = call.data(w) if callable(call.data) else call.data
    if call.api:
        client = w.api(call.who)
        if call.method == "get":
            return client.get(path, data)
        return client.post(path, data, format="multipart" if call.multipart else "json")
    extra = {"HTTP_HX_REQUEST": "true"} if call.htmx else {}
    return getattr(w.page(call.who), call.method)(path, data or {}, **extra)


@pytest.mark.parametrize(
    "key,index", [(key, i) for key, calls in CALLS.items() for i in range(len(calls))], ids=lambda v: str(v)
)
def test_a_patient_data_route_records_who_saw_whom(world, key, index):
    call = CALLS[key][index]
    caller = world.user(call.who)
    caller_id = caller.pk if caller is not None else None
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = _send(world, call)

    assert response.status_code < 400, (response.status_code, getattr(response, "content", b"")[:300])
    recorded = list(AuditEvent.objects.filter(id__gt=before).select_related("member"))
    assert recorded, f"{key} recorded nothing"
    assert {e.account_id for e in recorded} == {world.account.pk}
    assert {e.user_id for e in recorded} == {caller_id}
    assert {e.via for e in recorded} == {"api" if call.api else "link" if call.who == "link" else "page"}
    assert {e.ip for e in recorded} == {"127.0.0.1"}
    seen = {e.member.code for e in recorded if e.member}
    assert set(call.patients) <= seen, (seen, call.patients)


def test_the_walk_sees_the_routes_it_classifies():
    # Guards the tests above against passing because the walk found nothing.
    keys = {key for key, _ in _routes()}
    assert {"visits:queues", "visits-current", "admin:clinic_member_changelist"} <= keys
    assert len(CALLS) > 40
