from django.urls import path

from reminders import views

# Each name is `link_<purpose>` (messaging.links builds the links' paths from it). Public: no login.
urlpatterns = [
    path("<str:token>/confirm/", views.confirm, name="link_appointment_confirm"),
    path("<str:token>/cancel/", views.cancel, name="link_appointment_cancel"),
    path("<str:token>/reschedule/", views.reschedule, name="link_appointment_reschedule"),
]
