from django.apps import AppConfig


class MeasurementConfig(AppConfig):
    name = "stepwell.apps.measurement"
    label = "measurement"
