"""The client against a real server: signing verified by the server, signals, the blocker, and
failures as exceptions with their reason."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import gatehouse

from conftest import free_port

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def test_a_signed_request_passes_the_servers_verification(server, client, admin, android_phone):
    created = admin.admin.create_signing_key({"tenant_id": server.tenant_id})
    signer = gatehouse.RequestSigner(created["key"]["key_id"], created["secret"])
    fp = gatehouse.fingerprint(android_phone)
    body = b'{"user":"alice"}'
    token = signer.sign("/api/login", query="b=2&a=1", body=body, device_id=fp.device_id, env=fp.env)

    answer = client.verify.verify(
        {"partner_code": server.tenant_id, "path": "/api/login", "sign": token, "query": "a=1&b=2", "body": body}
    )
    assert answer["code"] == "VERIFY_ENVELOPE_CODE_OK", answer
    assert answer["data"]["status"] == "VERIFY_STATUS_PASS", answer
    assert answer["data"]["device_id"] == fp.device_id
    assert answer["data"]["key_id"] == signer.key_id

    tampered = client.verify.verify(
        {"partner_code": server.tenant_id, "path": "/api/login", "sign": token, "query": "a=1&b=2", "body": b"{}"}
    )
    assert tampered["data"]["status"] == "VERIFY_STATUS_QUERY_OR_BODY_MISMATCH", tampered


def test_send_signal_blocking_and_its_idempotent_replay(client):
    user = f"user-{uuid.uuid4().hex[:8]}"
    request: gatehouse.types.SendSignalRequest = {
        "idempotency_key": f"idem-{user}",
        "type": "login",
        "source": "SIGNAL_SOURCE_SERVER",
        "identifiers": {"user_id": user},
        "ip": "192.0.2.10",
        "user_agent": CHROME,
        "metadata": {"plan": "pro"},
        "time_ms": int(time.time() * 1000),
    }
    first = client.signals.send_signal(request)
    assert first["signal_id"].startswith("sig_")
    assert first["identifiers"]["user_id"] == user
    assert first["identity"]["identity_id"].startswith("idt_")
    assert isinstance(first["started_ms"], int) and first["finished_ms"] >= first["started_ms"]
    assert first["replayed"] is False
    again = client.signals.send_signal(request)
    assert again["replayed"] is True and again["signal_id"] == first["signal_id"]

    status = client.identities.get_identity_status({"identity_id": first["identity"]["identity_id"]})
    assert status["identity_id"] == first["identity"]["identity_id"]
    assert status["status"].startswith("IDENTITY_STATUS_") and status["active_bans"] == []


def test_send_signal_async_from_an_app_with_the_fingerprint(server, client, android_phone):
    user = f"app-{uuid.uuid4().hex[:8]}"
    client.signals.send_signal({"type": "signup", "identifiers": {"user_id": user}, "ip": "192.0.2.11"})
    fp = gatehouse.fingerprint(android_phone)

    async def from_the_app():
        app = gatehouse.AsyncGatehouse(server.endpoint, server.publishable_key)
        return await app.signals.send_signal(
            {
                "type": "open",
                "source": "SIGNAL_SOURCE_APP",
                "identifiers": {"user_id": user},
                "device": {"device_id": fp.device_id, "platform": "DEVICE_PLATFORM_ANDROID", "components": fp.components},
            }
        )

    answer = asyncio.run(from_the_app())
    assert answer["device"]["device_id"] == fp.device_id
    assert answer["identifiers"]["user_id"] == user


def test_check_visitor_lets_a_browser_in_and_flags_a_script(client):
    person = client.blocker.check_visitor({"ip": "81.2.69.160", "ua": CHROME, "url": "/shop?q=shoes"})
    assert person["ip"] == "81.2.69.160"
    assert person["ip_status"]["block_access"] is False
    assert person["ip_status"]["detect_activity_label"] == "VISITOR", person
    script = client.blocker.check_visitor({"ip": "81.2.69.161", "ua": "python-requests/2.32", "url": "/"})
    assert script["ip_status"]["is_bot"] is True
    assert script["ip_status"]["block_access"] is True


def test_async_calls_run_concurrently(server):
    async def many():
        client = gatehouse.AsyncGatehouse(server.endpoint, server.secret_key)
        calls = [client.blocker.check_visitor({"ip": f"81.2.69.{i}", "ua": CHROME, "url": "/"}) for i in range(1, 21)]
        return await asyncio.gather(*calls)

    answers = asyncio.run(many())
    assert [answer["ip"] for answer in answers] == [f"81.2.69.{i}" for i in range(1, 21)]


def test_the_blocking_client_works_inside_a_running_event_loop(client):
    async def inside():
        return client.blocker.check_visitor({"ip": "81.2.69.160", "ua": CHROME, "url": "/"})

    assert asyncio.run(inside())["ip"] == "81.2.69.160"


def test_a_wrong_key_is_an_unauthorized_error(server):
    wrong = gatehouse.Gatehouse(server.endpoint, "sk_" + "0" * 40)
    with pytest.raises(gatehouse.UnauthorizedError) as raised:
        wrong.blocker.check_visitor({"ip": "81.2.69.160", "ua": CHROME, "url": "/"})
    error = raised.value
    assert isinstance(error, gatehouse.GatehouseError)
    assert error.reason == "UNAUTHORIZED"
    assert str(error).startswith("UNAUTHORIZED: ") and error.message

    async def publishable_key_on_a_secret_call():
        app = gatehouse.AsyncGatehouse(server.endpoint, server.publishable_key)
        await app.blocker.check_visitor({"ip": "81.2.69.160", "ua": CHROME, "url": "/"})

    with pytest.raises(gatehouse.UnauthorizedError):
        asyncio.run(publishable_key_on_a_secret_call())


def test_invalid_requests_name_the_field(client):
    with pytest.raises(gatehouse.InvalidRequestError) as raised:
        client.blocker.check_visitor({"ip": "not-an-ip", "ua": CHROME, "url": "/"})
    assert raised.value.reason == "INVALID_REQUEST"
    assert raised.value.field == "ip", raised.value
    with pytest.raises(gatehouse.InvalidRequestError) as raised:
        client.blocker.check_visitor({"no_such_field": 1})
    assert "no_such_field" in raised.value.message


def test_other_reasons_map_to_their_classes(client, server):
    with pytest.raises(gatehouse.NotFoundError) as raised:
        client.identities.get_identity({"identity_id": "idt_" + "0" * 16})
    assert raised.value.reason == "NOT_FOUND"
    with pytest.raises(gatehouse.InvalidRequestError):
        gatehouse.Gatehouse(server.endpoint, "")


def test_an_unreachable_server_is_a_network_error():
    unreachable = gatehouse.Gatehouse(f"http://127.0.0.1:{free_port()}", "sk_x", max_attempts=1, connect_timeout=2)
    with pytest.raises(gatehouse.NetworkError) as raised:
        unreachable.blocker.check_visitor({"ip": "81.2.69.160", "ua": CHROME, "url": "/"})
    assert raised.value.reason == "NETWORK"
