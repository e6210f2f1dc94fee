"""The events a clinic's endpoints can subscribe to: VSee's names, and the words the staff page shows."""

from django.db import models


class EventType(models.TextChoices):
    USER_CREATED = "user.created", "User created"
    VISIT_CREATED = "visit.created", "Visit created"
    VISIT_UPDATED = "visit.updated", "Visit updated"
    VISIT_ENDED = "visit.ended", "Visit ended"
    VISIT_NOTE_SIGNED_AND_SENT = "visit.note.signed_and_sent", "Visit notes signed and sent"
