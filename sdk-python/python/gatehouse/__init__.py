"""Gatehouse client SDK: device fingerprint, request signatures, and a client of every service.

::

    import gatehouse

    fp = gatehouse.fingerprint(gatehouse.DeviceAttributes(platform="android", model="SM-S911B"))
    token = gatehouse.RequestSigner(key_id, secret).sign("/api/login", device_id=fp.device_id)
    client = gatehouse.Gatehouse("http://127.0.0.1:50051", "sk_...")
    client.signals.send_signal({"type": "login", "identifiers": {"user_id": "u1"}})

The fingerprint, the signature and the calls are implemented once, in Rust (gatehouse-sdk-core),
and shared with the Node, Kotlin and Swift SDKs.
"""

from . import types
from ._native import DeviceAttributes, EnvRisks, Fingerprint, fingerprint
from .client import AsyncGatehouse, Gatehouse, methods
from .errors import (
    ConflictError,
    GatehouseError,
    InternalError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitedError,
    UnauthorizedError,
)
from .signing import RequestSigner, canonical_query

__all__ = [
    "AsyncGatehouse",
    "Gatehouse",
    "methods",
    "types",
    "DeviceAttributes",
    "EnvRisks",
    "Fingerprint",
    "fingerprint",
    "RequestSigner",
    "canonical_query",
    "GatehouseError",
    "InvalidRequestError",
    "UnauthorizedError",
    "PaymentRequiredError",
    "NotFoundError",
    "ConflictError",
    "RateLimitedError",
    "NetworkError",
    "InternalError",
]
