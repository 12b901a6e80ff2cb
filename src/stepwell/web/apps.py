from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "stepwell.web"
    label = "web"
