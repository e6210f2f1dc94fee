from django.core.management.base import BaseCommand

from clinic.demo import DEMO_PASSWORD, seed_demo_clinic


class Command(BaseCommand):
    help = "Load the demo clinic (idempotent): rooms, consultations, providers, staff and a patient."

    def add_arguments(self, parser):
        parser.add_argument("--account", default="demo", help="Account code to load the demo clinic under.")

    def handle(self, *args, account, **options):
        users = seed_demo_clinic(account_code=account)
        self.stdout.write(self.style.SUCCESS(f"Demo clinic '{account}' is ready."))
        self.stdout.write(f"Logins (clinic code {account}, password {DEMO_PASSWORD!r}): {', '.join(users)}")
