# Load the Celery app with Django so @shared_task binds to it in every process.
from released_sync.celery import app as celery_app

__all__ = ("celery_app",)
