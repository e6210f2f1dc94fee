import uuid

from django.db import migrations, models


def fill_meeting_ids(apps, schema_editor):
    Visit = apps.get_model("visits", "Visit")
    batch = []
    for visit in Visit.objects.filter(meeting_id__isnull=True).only("pk").iterator(chunk_size=2000):
        visit.meeting_id = uuid.uuid4()
        batch.append(visit)
        if len(batch) == 2000:
            Visit.objects.bulk_update(batch, ["meeting_id"])
            batch = []
    Visit.objects.bulk_update(batch, ["meeting_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("visits", "0004_close_note_provider_reasons"),
    ]

    operations = [
        migrations.AddField(
            model_name="visit",
            name="meeting_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_meeting_ids, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="visit",
            name="meeting_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
