from django.contrib.auth.backends import ModelBackend

from clinic.models import Account, User


class AccountUsernameBackend(ModelBackend):
    """Usernames are unique per account: log in with the account (code or object) and a username.

    Without an account, only users that belong to none (site superusers) can log in.
    """

    def authenticate(self, request, username=None, password=None, account=None, **kwargs):
        if username is None or password is None:
            return None
        if isinstance(account, str):
            account = Account.objects.filter(code=account.strip()).first()
            if account is None:
                User().set_password(password)  # same cost as a real check: no account-enumeration timing
                return None
        user = User.objects.filter(account=account, username=username).first()
        if user is None:
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id):
        # Every staff page asks the user's account and role (provider, member): one query for all of them.
        user = User.objects.select_related("account", "provider", "member").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
