from django.core.management.base import BaseCommand, CommandError

from clinic.models import User
from clinic.services import api_token_issue


class Command(BaseCommand):
    help = "Print a fresh API token (X-ApiToken) for a user of an account."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True)
        parser.add_argument("--user", required=True, help="The username within the account.")
        parser.add_argument("--refresh", action="store_true", help="Also print the refresh token.")

    def handle(self, *args, account, user, refresh, **options):
        found = User.objects.filter(account__code=account, username=user, is_active=True).first()
        if found is None:
            raise CommandError(f"No active user {user!r} in account {account!r}.")
        token = api_token_issue(user=found)
        self.stdout.write(token["token"])
        if refresh:
            self.stdout.write(token["refresh_token"]["token"])
