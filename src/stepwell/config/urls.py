from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from stepwell.api import api
from stepwell.web import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("django-admin/", admin.site.urls),
    path("", include("stepwell.web.urls")),
]
