from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0007_patient_code_pattern_and_search_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="member",
            name="language",
            field=models.CharField(
                blank=True,
                help_text="The language of the patient's messages (e.g. es, fr-CA); empty: the clinic's.",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="via",
            field=models.CharField(
                choices=[
                    ("page", "Staff page"),
                    ("api", "API"),
                    ("task", "Background task"),
                    ("link", "Patient's link"),
                ],
                max_length=4,
            ),
        ),
    ]
