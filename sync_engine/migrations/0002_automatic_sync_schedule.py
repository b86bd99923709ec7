"""The automatic sync every 20 minutes, as a django-celery-beat periodic task.

A data migration rather than code, so an admin can change the interval (Admin › Periodic tasks)
without a deploy, and re-running migrations never overwrites their change.
"""

from django.db import migrations

TASK_NAME = "Automatic QuickBooks sync (every company)"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_20_minutes, _ = IntervalSchedule.objects.get_or_create(every=20, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "sync_engine.tasks.sync_all_companies",
            "interval": every_20_minutes,
            "queue": "bulk",
            "description": "Requests a sync of every connected, onboarded company, spread out.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sync_engine", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
