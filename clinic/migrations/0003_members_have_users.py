"""Every patient gets a user (with no password), so that every person has one id: the user's."""

import hashlib

from django.db import migrations


def give_members_users(apps, schema_editor):
    Member = apps.get_model("clinic", "Member")
    User = apps.get_model("clinic", "User")
    for member in Member.objects.filter(user__isnull=True).iterator(chunk_size=500):
        existing = User.objects.filter(account_id=member.account_id, external_code=member.code).first()
        if existing is not None and (
            Member.objects.filter(user_id=existing.pk).exists()
            or apps.get_model("clinic", "Provider").objects.filter(user_id=existing.pk).exists()
        ):
            existing = User.objects.create(
                account_id=member.account_id,
                username=f"member.{member.pk}",
                first_name=member.first_name,
                last_name=member.last_name,
                password="!",
            )
        if existing is None:
            # As clinic.services._sso_username names them, so a later SSO with this code finds the user.
            digest = hashlib.sha256(member.code.encode()).hexdigest()
            existing = User.objects.create(
                account_id=member.account_id,
                external_code=member.code,
                username="sso." + digest[:24],
                first_name=member.first_name,
                last_name=member.last_name,
                password="!",  # unusable
            )
        member.user_id = existing.pk
        member.save(update_fields=["user"])


class Migration(migrations.Migration):
    dependencies = [("clinic", "0002_video_link_template")]

    operations = [migrations.RunPython(give_members_users, migrations.RunPython.noop, elidable=True)]
