"""Typical use that must type-check cleanly (mypy --strict)."""

from __future__ import annotations

import gatehouse
from gatehouse import types


def signal(client: gatehouse.Gatehouse) -> str:
    request: types.SendSignalRequest = {
        "type": "login",
        "source": "SIGNAL_SOURCE_SERVER",
        "identifiers": {"user_id": "u1"},
        "metadata": {"plan": "pro"},
        "time_ms": 1_750_000_000_000,
    }
    answer = client.signals.send_signal(request)
    return answer["identifiers"]["user_id"] + answer["signal_id"]


async def visitor(client: gatehouse.AsyncGatehouse) -> bool:
    answer = await client.blocker.check_visitor({"ip": "81.2.69.160", "ua": "Mozilla/5.0", "url": "/"})
    label: types.DetectActivity = answer["ip_status"]["detect_activity"]
    return answer["ip_status"]["block_access"] or label == "DETECT_ACTIVITY_VISITOR"


def sign(fp: gatehouse.Fingerprint, signer: gatehouse.RequestSigner) -> str:
    return signer.sign("/api/login", query={"a": 1}, body=b"{}", device_id=fp.device_id, env=fp.env)


def reason(error: gatehouse.GatehouseError) -> str:
    if isinstance(error, gatehouse.RateLimitedError):
        return str(error.retry_after_seconds)
    if isinstance(error, gatehouse.InvalidRequestError):
        return error.field or error.reason
    return error.reason
