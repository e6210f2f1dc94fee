"""Messages to patients: asking for one (rendered, checked against consent, stored once per dedupe key) and
delivering it after commit, by email (Django's mail framework) or text message (`messaging.sms`).

The `Message` table is the outbox and the source of truth: a message is written in the caller's
transaction, its delivery is enqueued after commit (queue `messages`), and the sweeper enqueues whatever
is due and not sent (a broker that was down, a worker that died, a retry). A delivery claims its rows
first (SKIP LOCKED, with a lease), so two workers never send one message; a crash between the hand-over
and the mark means that message may go twice (at least once, never lost).
"""

import base64
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email import encoders
from email.message import Message as EmailHeader
from email.mime.base import MIMEBase
from email.mime.text import MIMEText

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from clinic.errors import InvalidInput, NotFound
from clinic.jobs import enqueue_on_commit
from clinic.models import Account, Member, User
from messaging import sms
from messaging.models import Channel, Consent, Message, MessageStatus
from messaging.rendering import TemplateBook
from messaging.selectors import consents_granted

log = logging.getLogger(__name__)

# A failed hand-over is tried again after these many seconds, then given up (status failed).
RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A delivery holds its messages this long; past it (a dead worker) the sweeper hands them to another.
CLAIM_LEASE = dt.timedelta(minutes=3)
# Messages per delivery task: one SMTP connection carries them all.
DELIVER_BATCH = 50
# The sweeper leaves a fresh message this long to the task enqueued after its commit.
SWEEP_GRACE = dt.timedelta(seconds=30)
SWEEP_BATCH = 5000

Attachment = tuple[
    str, bytes, str
]  # filename, content, mimetype (parameters allowed: "text/calendar; method=REQUEST")


@dataclass(frozen=True)
class Outgoing:
    """One message asked for, in a batch (`messages_send`)."""

    patient: Member
    kind: str
    context: dict
    dedupe_key: str
    attachments: Sequence[Attachment] = ()
    channel: str | None = None
    not_after: dt.datetime | None = None


# --- asking for messages (inside the caller's transaction) ---------------------------------------------


def message_send(
    *,
    account: Account,
    patient: Member,
    kind: str,
    context: dict,
    dedupe_key: str,
    attachments: Sequence[Attachment] = (),
    channel: str | None = None,
    not_after: dt.datetime | None = None,
) -> Message | None:
    """Write the message of `kind` to `patient` from the clinic's template (in the patient's language when
    the clinic has one) and send it after commit. `channel` None: email, else a text message, whichever
    the patient consented to and has an address for. Returns the message, or None when it is not sent
    (no consent, no address: the row records why). The same `dedupe_key` again (now or later) writes and
    sends nothing more and returns what the first call wrote. Never sent after `not_after`."""
    outgoing = Outgoing(
        patient=patient,
        kind=kind,
        context=context,
        dedupe_key=dedupe_key,
        attachments=attachments,
        channel=channel,
        not_after=not_after,
    )
    return messages_send(account=account, outgoing=[outgoing])[0]


@transaction.atomic
def messages_send(*, account: Account, outgoing: Sequence[Outgoing]) -> list[Message | None]:
    """`message_send` for many messages of one clinic: a fixed number of queries whatever their number."""
    keys = [o.dedupe_key for o in outgoing]
    if len(set(keys)) != len(keys):
        raise InvalidInput.field("dedupe_key", "The same key twice in one batch.")
    if any(o.patient.account_id != account.pk for o in outgoing):
        raise NotFound("No such patient.")
    if any(o.channel not in (None, *Channel.values) for o in outgoing):
        raise InvalidInput.field("channel", f"Choose one of {', '.join(Channel.values)}.")
    existing = {m.dedupe_key: m for m in Message.objects.filter(dedupe_key__in=keys)}
    fresh = [o for o in outgoing if o.dedupe_key not in existing]
    if fresh:
        granted = consents_granted(member_ids=[o.patient.pk for o in fresh])
        book = TemplateBook(account_ids=[account.pk], kinds={o.kind for o in fresh})
        now = timezone.now()
        rows = [_message_of(account, o, granted, book, now) for o in fresh]
        # A concurrent caller with the same key (two beats) waits on the unique index, then inserts nothing.
        Message.objects.bulk_create(rows, ignore_conflicts=True)
        # Read back without the bodies just written: the callers want the row, not its text again.
        stored = Message.objects.filter(dedupe_key__in=[r.dedupe_key for r in rows]).only(
            "id", "dedupe_key", "status", "kind", "channel", "account_id", "member_id"
        )
        existing |= {m.dedupe_key: m for m in stored}
        pending = sorted(m.pk for m in stored if m.status == MessageStatus.PENDING)
        for start in range(0, len(pending), DELIVER_BATCH):
            enqueue_on_commit("messaging.tasks.deliver", pending[start : start + DELIVER_BATCH])
    found = [existing.get(key) for key in keys]
    return [m if m is not None and m.status != MessageStatus.REFUSED else None for m in found]


def _route(o: Outgoing, granted: set[tuple[int, str]]) -> tuple[str, str, str]:
    """(channel, recipient, why not): the first channel asked for with an address and consent."""
    why = []
    for channel in [o.channel] if o.channel else [Channel.EMAIL, Channel.SMS]:
        label = Channel(channel).label.lower()
        recipient = o.patient.email if channel == Channel.EMAIL else o.patient.phone
        if not recipient:
            why.append(f"no {'email address' if channel == Channel.EMAIL else 'mobile number'} on file")
        elif (o.patient.pk, channel) not in granted:
            why.append(f"no consent to {label}")
        else:
            return channel, recipient, ""
    return o.channel or "", "", "Not sent: " + "; ".join(why) + "."


def _message_of(account: Account, o: Outgoing, granted, book: TemplateBook, now: dt.datetime) -> Message:
    channel, recipient, why = _route(o, granted)
    fields = {
        "account": account,
        "member": o.patient,
        "kind": o.kind,
        "channel": channel,
        "dedupe_key": o.dedupe_key,
        "created": now,
        "next_attempt_at": now,
        "not_after": o.not_after,
    }
    if why:
        return Message(status=MessageStatus.REFUSED, reason=why, **fields)
    rendered = book.render(account_id=account.pk, kind=o.kind, language=o.patient.language, context=o.context)
    if channel == Channel.SMS:
        return Message(recipient=recipient, language=rendered.language, body_text=rendered.sms, **fields)
    return Message(
        recipient=recipient,
        language=rendered.language,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        attachments=[
            [name, base64.b64encode(content).decode(), mimetype] for name, content, mimetype in o.attachments
        ],
        **fields,
    )


# --- consent ---------------------------------------------------------------------------------------------


@transaction.atomic
def consent_record(
    *,
    patient: Member,
    channel: str,
    granted: bool,
    source: str,
    at: dt.datetime | None = None,
    actor: User | None = None,
) -> Consent:
    """Record that the patient gave (or withdrew) consent to be contacted on `channel`, when, how and (for
    staff) by whom. The history is kept: this row is the newest, the earlier ones stay."""
    if channel not in Channel.values:
        raise InvalidInput.field("channel", f"Choose one of {', '.join(Channel.values)}.")
    source = " ".join(source.split())
    if not source:
        raise InvalidInput.field("source", "Say how the patient gave or withdrew consent.")
    return Consent.objects.create(
        account_id=patient.account_id,
        member=patient,
        channel=channel,
        granted=granted,
        source=source[:200],
        recorded_by=actor,
        at=at or timezone.now(),
    )


@transaction.atomic
def consents_set(*, patient: Member, granted: dict[str, bool], source: str, actor: User) -> list[Consent]:
    """What a staff member says the patient agrees to now, per channel: a statement is recorded only for a
    channel whose answer changes (a form saved again adds nothing to the history). The address must be on
    file for a channel granted. Returns the statements recorded."""
    if actor.account_id != patient.account_id:
        raise NotFound("No such patient.")
    addresses = {Channel.EMAIL: patient.email, Channel.SMS: patient.phone}
    missing = {Channel.EMAIL: "The patient has no email address.", Channel.SMS: "The patient has no phone."}
    for channel, wanted in granted.items():
        if channel not in Channel.values:
            raise InvalidInput.field("channel", f"Choose one of {', '.join(Channel.values)}.")
        if wanted and not addresses[channel]:
            raise InvalidInput.field(channel, missing[channel])
    now_granted = {channel for member_id, channel in consents_granted(member_ids=[patient.pk])}
    return [
        consent_record(patient=patient, channel=channel, granted=wanted, source=source, actor=actor)
        for channel, wanted in granted.items()
        if wanted != (channel in now_granted)
    ]


# --- send-time checks ------------------------------------------------------------------------------------

# kind -> check(messages) -> {message id: why it is no longer wanted}. The app that asks for a kind of
# message registers its check (in its AppConfig.ready): a reminder whose appointment was cancelled or moved
# since is dropped at send time, and this app knows nothing of appointments.
SendCheck = Callable[[list[Message]], dict[int, str]]
_send_checks: dict[str, SendCheck] = {}


def send_check_register(*, kind: str, check: SendCheck) -> None:
    _send_checks[kind] = check


# --- delivering (tasks) -----------------------------------------------------------------------------------


def messages_deliver(*, message_ids: Sequence[int]) -> int:
    """Send the messages among `message_ids` that are due and not taken by another delivery; returns how
    many were handed over. Idempotent: a sent message is never claimed again."""
    messages = _claim(message_ids)
    if not messages:
        return 0
    now = timezone.now()
    dropped = {m.pk: "Too late to send." for m in messages if m.not_after and m.not_after <= now}
    by_kind = defaultdict(list)
    for m in messages:
        if m.pk not in dropped and m.kind in _send_checks:
            by_kind[m.kind].append(m)
    for kind, group in by_kind.items():
        dropped |= _send_checks[kind](group)
    for reason, ids in _group_by_reason(dropped).items():
        Message.objects.filter(pk__in=ids).update(
            status=MessageStatus.CANCELLED, reason=reason[:300], claimed_until=None
        )
    _links_scrubbed([m for m in messages if m.pk in dropped])
    messages = [m for m in messages if m.pk not in dropped]
    emails = [m for m in messages if m.channel == Channel.EMAIL]
    texts = [m for m in messages if m.channel == Channel.SMS]
    sent, failed = _send_emails(emails)
    sent_texts, failed_texts = _send_texts(texts)
    _mark(messages, sent=[*sent, *sent_texts], failed=failed | failed_texts)
    return len(sent) + len(sent_texts)


def _claim(message_ids: Sequence[int]) -> list[Message]:
    now = timezone.now()
    with transaction.atomic():
        messages = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(message_ids))
            .filter(
                Q(status=MessageStatus.PENDING, next_attempt_at__lte=now)
                | Q(status=MessageStatus.SENDING, claimed_until__lt=now)
            )
            .order_by("pk")
        )
        Message.objects.filter(pk__in=[m.pk for m in messages]).update(
            status=MessageStatus.SENDING, claimed_until=now + CLAIM_LEASE, attempts=F("attempts") + 1
        )
    for m in messages:
        m.attempts += 1
    return messages


def _group_by_reason(reasons: dict[int, str]) -> dict[str, list[int]]:
    grouped = defaultdict(list)
    for message_id, reason in reasons.items():
        grouped[reason].append(message_id)
    return grouped


def _attachment_part(filename: str, content: bytes, mimetype: str) -> MIMEBase:
    # Django's attach() takes no parameters in the type; a calendar invite needs its METHOD there.
    header = EmailHeader()
    header["Content-Type"] = mimetype
    maintype, subtype = header.get_content_maintype(), header.get_content_subtype()
    if maintype == "text":
        part = MIMEText(content.decode("utf-8"), subtype, "utf-8")
    else:
        part = MIMEBase(maintype, subtype)
        part.set_payload(content)
        encoders.encode_base64(part)
    for name, value in header.get_params()[1:]:
        part.set_param(name, value)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


def _email_of(message: Message) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient],
        headers={"Auto-Submitted": "auto-generated"},
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    for filename, content, mimetype in message.attachments:
        email.attach(_attachment_part(filename, base64.b64decode(content), mimetype))
    return email


def _send_emails(messages: list[Message]) -> tuple[list[int], dict[int, str]]:
    if not messages:
        return [], {}
    sent, failed = [], {}
    try:
        connection = get_connection(fail_silently=False)
        connection.open()
    except Exception as exc:
        log.warning("Could not reach the mail server: %s", exc)
        return [], {m.pk: f"Mail server: {exc}" for m in messages}
    try:
        for message in messages:
            # One at a time on the open connection: a refused recipient fails its own message only.
            try:
                connection.send_messages([_email_of(message)])
            except Exception as exc:
                log.warning("Could not send message %s: %s", message.pk, exc)
                failed[message.pk] = f"Mail server: {exc}"
            else:
                sent.append(message.pk)
    finally:
        connection.close()
    return sent, failed


def _send_texts(messages: list[Message]) -> tuple[list[int], dict[int, str]]:
    if not messages:
        return [], {}
    backend = sms.get_backend()
    sent, failed = [], {}
    for message in messages:
        try:
            backend.send_messages([sms.Sms(to=message.recipient, body=message.body_text)])
        except Exception as exc:
            log.warning("Could not send text message %s: %s", message.pk, exc)
            failed[message.pk] = f"Text messages: {exc}"
        else:
            sent.append(message.pk)
    return sent, failed


# A link's token as it stands in a URL path (messaging.links: 43 URL-safe characters between slashes).
_TOKEN_IN_PATH = re.compile(r"(?<=/)[A-Za-z0-9_-]{43}(?=/)")


def _links_scrubbed(messages: list[Message]) -> None:
    """Once a message is out (or will never go), the clear tokens of its links leave the table: the pending
    outbox is the only place they are kept, and the links themselves only as digests."""
    for message in messages:
        text = _TOKEN_IN_PATH.sub("…", message.body_text)
        html = _TOKEN_IN_PATH.sub("…", message.body_html)
        if (text, html) != (message.body_text, message.body_html):
            Message.objects.filter(pk=message.pk).update(body_text=text, body_html=html)


def _mark(messages: list[Message], *, sent: list[int], failed: dict[int, str]) -> None:
    now = timezone.now()
    if sent:
        Message.objects.filter(pk__in=sent).update(
            status=MessageStatus.SENT, sent_at=now, claimed_until=None, reason=""
        )
    given_up = {m.pk for m in messages if m.pk in failed and m.attempts >= MAX_ATTEMPTS}
    _links_scrubbed([m for m in messages if m.pk in {*sent, *given_up}])
    for message in messages:
        if message.pk not in failed:
            continue
        if message.attempts >= MAX_ATTEMPTS:
            changes = {"status": MessageStatus.FAILED}
        else:
            delay = RETRY_DELAYS[message.attempts - 1]
            changes = {"status": MessageStatus.PENDING, "next_attempt_at": now + dt.timedelta(seconds=delay)}
        Message.objects.filter(pk=message.pk).update(
            claimed_until=None, reason=failed[message.pk][:300], **changes
        )


def messages_sweep() -> int:
    """Enqueue what is due and not on its way: retries whose time came, messages whose task was lost (a
    broker that was down at commit), and those a dead worker held past its lease. Returns how many."""
    now = timezone.now()
    due = list(
        Message.objects.filter(
            Q(status=MessageStatus.PENDING, next_attempt_at__lte=now - SWEEP_GRACE)
            | Q(status=MessageStatus.SENDING, claimed_until__lt=now)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for start in range(0, len(due), DELIVER_BATCH):
        enqueue_on_commit("messaging.tasks.deliver", due[start : start + DELIVER_BATCH])
    return len(due)
