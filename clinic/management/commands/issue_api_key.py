from django.core.management.base import BaseCommand, CommandError

from clinic.models import Account
from clinic.services import api_credential_issue


class Command(BaseCommand):
    help = "Print a new API key and secret (X-ApiKey, X-ApiSecret) for an account. The secret is shown once."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True)
        parser.add_argument("--label", default="")

    def handle(self, *args, account, label, **options):
        found = Account.objects.filter(code=account).first()
        if found is None:
            raise CommandError(f"No account {account!r}.")
        key, secret = api_credential_issue(account=found, label=label)
        self.stdout.write(f"X-ApiKey: {key}")
        self.stdout.write(f"X-ApiSecret: {secret}")
