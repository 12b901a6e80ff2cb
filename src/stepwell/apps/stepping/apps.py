from django.apps import AppConfig


class SteppingConfig(AppConfig):
    name = "stepwell.apps.stepping"
    label = "stepping"
