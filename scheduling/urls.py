from django.urls import path

from scheduling import views

app_name = "scheduling"

urlpatterns = [
    path("", views.booking, name="booking"),
    path("pick/", views.pick, name="pick"),
    path("book/", views.book, name="book"),
    path("patients/", views.patient_search, name="patients"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/<int:member_id>/messages/", views.patient_consent, name="patient-consent"),
    path("day/", views.day_view, name="day"),
    path("calendar/", views.calendar_view, name="calendar"),
    path("calendar/<int:visit_id>/move/", views.calendar_move, name="calendar-move"),
    path("calendar/<int:visit_id>/cancel/", views.calendar_cancel, name="calendar-cancel"),
    path("calendar/<int:visit_id>/undo/", views.calendar_undo, name="calendar-undo"),
    path("appointments/<int:visit_id>/reschedule/", views.reschedule, name="reschedule"),
    path("appointments/<int:visit_id>/cancel/", views.cancel, name="cancel"),
    path("hours/", views.hours, name="hours"),
    path("feeds/", views.feeds, name="feeds"),
    path("feeds/<str:secret>.ics", views.feed, name="feed"),
]
