from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "stepwell.apps.accounts"
    label = "accounts"
