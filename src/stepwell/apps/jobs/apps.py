from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "stepwell.apps.jobs"
    label = "jobs"
