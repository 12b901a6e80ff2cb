"""Log-in: tokens, expiry, lockout, argon2, and the session path with CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from stepwell.apps.accounts.models import ApiToken
from stepwell.apps.accounts.services import api_token_user
from tests.conftest import PASSWORD, Network, token_for


def _login(client: Client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
    )


def test_no_token_is_401(network: Network) -> None:
    response = Client().get("/api/v1/patients")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def test_wrong_password_is_401_and_stores_no_token(network: Network) -> None:
    response = _login(Client(), "clin-a", "wrong password!")
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong user name or password"
    assert not ApiToken.objects.exists()


def test_token_is_stored_hashed_and_expires(network: Network) -> None:
    client = Client()
    raw = token_for(client, network.users["clinician"])
    token = ApiToken.objects.get()
    assert raw not in token.key_hash
    assert len(token.key_hash) == 64
    now = timezone.now()
    assert api_token_user(raw, now=now) == network.users["clinician"]
    assert api_token_user(raw, now=token.expires_at + timedelta(seconds=1)) is None
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=now)
    assert api_token_user(raw, now=now) is None
    response = client.get("/api/v1/patients", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401


def test_inactive_users_lose_api_access(network: Network) -> None:
    client = Client()
    raw = token_for(client, network.users["clinician"])
    network.users["clinician"].is_active = False
    network.users["clinician"].save()
    response = client.get("/api/v1/patients", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401


def test_repeated_failures_lock_the_account(network: Network) -> None:
    client = Client(headers={"User-Agent": "tablet-1"})
    for _ in range(4):
        assert _login(client, "clin-a", "not the password").status_code == 401
    # The fifth failure locks the account; from then on even the right password is refused.
    assert _login(client, "clin-a", "not the password").status_code == 429
    locked = _login(client, "clin-a", PASSWORD)
    assert locked.status_code == 429
    assert "too many" in locked.json()["detail"]
    # A colleague at the same clinic address, on another device, can still log in.
    colleague = Client(headers={"User-Agent": "laptop-2"})
    assert _login(colleague, "coord-a", PASSWORD).status_code == 200
    # Another device does not unlock the locked user name.
    assert _login(colleague, "clin-a", PASSWORD).status_code == 429


def test_page_login_locks_out_too(network: Network) -> None:
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": "chw-a", "password": "nope nope"})
    response = client.post("/accounts/login/", {"username": "chw-a", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Account locked" in response.content


@pytest.mark.real_hashing
def test_passwords_are_hashed_with_argon2(network: Network) -> None:
    from stepwell.apps.accounts.models import User

    user = User.objects.create_user(username="fresh", password="a long enough pass", role="chw")
    assert user.password.startswith("argon2$")


def test_session_api_calls_need_csrf_for_writes(network: Network) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(network.users["coordinator"])
    assert client.get("/api/v1/patients").status_code == 200
    response = client.post("/api/v1/patients", {}, content_type="application/json")
    assert response.status_code in {401, 403}
