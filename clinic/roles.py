"""Staff roles are Django groups holding model permissions; views check permissions, not group names."""

from django.contrib.auth.models import Group, Permission

PROVIDER = "Provider"
FRONT_DESK = "Front desk"
CLINIC_ADMIN = "Clinic admin"

ROLE_PERMISSIONS = {
    PROVIDER: ["visits.accept_visit", "visits.view_visit", "visits.view_clinical_content"],
    FRONT_DESK: ["visits.book_appointment", "visits.view_visit", "clinic.view_member", "clinic.add_member"],
    CLINIC_ADMIN: [
        "visits.book_appointment",
        "visits.view_visit",
        "visits.view_all_visits",
        "visits.force_cancel_visit",
        "visits.export_visit_summary",
        "visits.view_clinical_content",
        "clinic.view_member",
        "clinic.add_member",
        "clinic.change_room",
        "webhooks.manage_webhooks",
        "clinic.unlock_login",
        "clinic.view_auditevent",
    ],
}


def ensure_role_groups() -> dict[str, Group]:
    groups = {}
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)
        groups[name] = group
    return groups
