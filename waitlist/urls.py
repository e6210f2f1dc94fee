from django.urls import path

from waitlist import views

app_name = "waitlist"

urlpatterns = [
    path("", views.waitlist, name="page"),
    path("offers/", views.offers, name="offers"),
    path("events/", views.events, name="events"),
    path("entries/<int:entry_id>/remove/", views.entry_remove, name="entry-remove"),
    path("holds/<int:hold_id>/stop/", views.offers_stop, name="offers-stop"),
]
