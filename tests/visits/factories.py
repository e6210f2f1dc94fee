import factory
from django.utils import timezone

from tests.clinic.factories import AccountFactory, MemberFactory, RoomFactory
from visits.models import Intake, Visit, VisitStatus, VisitType


class IntakeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Intake

    account = factory.SubFactory(AccountFactory)
    room = factory.SubFactory(RoomFactory, account=factory.SelfAttribute("..account"))
    member = factory.SubFactory(MemberFactory, account=factory.SelfAttribute("..account"))
    reason_for_visit = "Rash on the arm"
    location = "CA"
    custom = factory.LazyFunction(lambda: {"custom_symptoms": "Rash, red eyes"})


class VisitFactory(factory.django.DjangoModelFactory):
    """A waiting walk-in by default. Create it with the services when a test is about a transition."""

    class Meta:
        model = Visit

    account = factory.SubFactory(AccountFactory)
    room = factory.SubFactory(RoomFactory, account=factory.SelfAttribute("..account"))
    intake = factory.SubFactory(
        IntakeFactory, account=factory.SelfAttribute("..account"), room=factory.SelfAttribute("..room")
    )
    member = factory.SelfAttribute("intake.member")
    type = VisitType.WALKIN
    status = VisitStatus.WAITING
    start = factory.LazyFunction(timezone.now)
