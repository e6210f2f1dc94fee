import factory
from django.contrib.auth.models import Group

from clinic.models import Account, Consultation, Member, Provider, ProviderLicense, Room, User
from clinic.roles import CLINIC_ADMIN, FRONT_DESK, PROVIDER


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"clinic{n}")
    name = factory.LazyAttribute(lambda o: f"Clinic {o.code}")


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    account = factory.SubFactory(AccountFactory)
    code = factory.Sequence(lambda n: f"room{n}")
    name = factory.LazyAttribute(lambda o: f"Room {o.code}")
    time_zone = "America/Los_Angeles"
    max_waiting_time = 1800


class ConsultationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consultation

    room = factory.SubFactory(RoomFactory)
    description = "General consultation"
    duration = 15 * 60
    amount = "50.00"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("secret-pass")

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.groups.add(Group.objects.get(name=extracted))


class ProviderFactory(factory.django.DjangoModelFactory):
    """A provider working in `rooms` (default: a new room of its account), licensed in `states`."""

    class Meta:
        model = Provider
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    user = factory.SubFactory(UserFactory, account=factory.SelfAttribute("..account"), role=PROVIDER)
    title = "MD"

    @factory.post_generation
    def rooms(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.rooms.add(*extracted)

    @factory.post_generation
    def states(obj, create, extracted, **kwargs):
        for state in extracted if extracted is not None else ["CA"]:
            ProviderLicense.objects.create(provider=obj, state=state)


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    account = factory.SubFactory(AccountFactory)
    user = factory.SubFactory(UserFactory, account=factory.SelfAttribute("..account"))
    code = factory.Sequence(lambda n: f"P-{n:04d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    state = "CA"
    phone = "+14155550100"


def front_desk_user(account: Account, **kwargs) -> User:
    return UserFactory(account=account, role=FRONT_DESK, **kwargs)


def clinic_admin_user(account: Account, **kwargs) -> User:
    return UserFactory(account=account, role=CLINIC_ADMIN, **kwargs)
