from django.apps import AppConfig


class CoordinationConfig(AppConfig):
    name = "stepwell.apps.coordination"
    label = "coordination"
