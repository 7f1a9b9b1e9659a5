"""The exceptions every Gatehouse call raises: one class per stable reason.

Catch :class:`GatehouseError` for all of them, or a subclass for one kind::

    try:
        client.blocker.check_visitor({"ip": ip, "ua": ua, "url": url})
    except gatehouse.RateLimitedError as error:
        time.sleep(error.retry_after_seconds)
    except gatehouse.GatehouseError as error:
        log.warning("gatehouse said %s: %s", error.reason, error.message)
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from ._native import GatehouseError as _NativeError


class GatehouseError(Exception):
    """A call failed; ``reason`` is the server's stable reason, ``message`` says what to fix."""

    #: ``INVALID_REQUEST``, ``UNAUTHORIZED``, ``PAYMENT_REQUIRED``, ``NOT_FOUND``, ``CONFLICT``,
    #: ``RATE_LIMITED``, ``NETWORK`` or ``INTERNAL``.
    reason: str = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}" if self.message else self.reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidRequestError(GatehouseError):
    """A field of the request (or of the client's configuration) is invalid; see ``field``."""

    reason = "INVALID_REQUEST"

    def __init__(self, message: str, field: Optional[str] = None) -> None:
        super().__init__(message)
        #: The field at fault when known, for example ``settings.retention_days`` or ``api_key``.
        self.field = field


class UnauthorizedError(GatehouseError):
    """The API key is missing, wrong, revoked, or may not make this call."""

    reason = "UNAUTHORIZED"


class PaymentRequiredError(GatehouseError):
    """The tenant's service or traffic is switched off."""

    reason = "PAYMENT_REQUIRED"


class NotFoundError(GatehouseError):
    """The named resource does not exist."""

    reason = "NOT_FOUND"


class ConflictError(GatehouseError):
    """The resource already exists, or an idempotency key was reused for another request."""

    reason = "CONFLICT"


class RateLimitedError(GatehouseError):
    """Over the tenant's per-minute limit; retry after ``retry_after_seconds``."""

    reason = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_seconds: int = 0) -> None:
        super().__init__(message)
        #: Seconds until the limit resets.
        self.retry_after_seconds = retry_after_seconds


class NetworkError(GatehouseError):
    """The server could not be reached, or the connection broke (after the retries)."""

    reason = "NETWORK"


class InternalError(GatehouseError):
    """The server (or, rarely, the client) failed."""

    reason = "INTERNAL"


_BY_REASON: Dict[str, Type[GatehouseError]] = {
    cls.reason: cls
    for cls in (
        InvalidRequestError,
        UnauthorizedError,
        PaymentRequiredError,
        NotFoundError,
        ConflictError,
        RateLimitedError,
        NetworkError,
        InternalError,
    )
}


def from_native(error: _NativeError) -> GatehouseError:
    """The exception for an error raised by the native binding."""
    reason = error.reason()  # type: ignore[attr-defined]
    message = error.detail  # type: ignore[attr-defined]
    if reason == "INVALID_REQUEST":
        return InvalidRequestError(message, field=error.field)  # type: ignore[attr-defined]
    if reason == "RATE_LIMITED":
        return RateLimitedError(message, error.retry_after_seconds)  # type: ignore[attr-defined]
    return _BY_REASON.get(reason, InternalError)(message)


__all__ = [
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
