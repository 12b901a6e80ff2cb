from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "stepwell.apps.safety"
    label = "safety"
