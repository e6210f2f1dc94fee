"""What clinic tells the apps above it (it imports none of them): receivers run inside the sender's
transaction, so what they write commits or rolls back with the change."""

from django.dispatch import Signal

# A user was created (POST /users/sso): `user`, its provider or member row already written.
user_created = Signal()
