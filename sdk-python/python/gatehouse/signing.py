"""Request signatures: what an app sends with a request so the server can tell it from a forged or
replayed one (``client.verify.verify`` checks it).

::

    signer = RequestSigner(key_id, secret)  # from AdminService.CreateSigningKey
    token = signer.sign("/api/login", body=body, device_id=fp.device_id, env=fp.env)
"""

from __future__ import annotations

import json
from typing import Mapping, Optional, Union

from . import _native
from ._native import EnvRisks
from .errors import from_native

#: A query string (``a=1&b=2``) or a mapping of names to strings, numbers and booleans.
Query = Union[str, Mapping[str, Union[str, int, float, bool]]]


def _request(
    path: str, query: Query, body: Union[bytes, str], device_id: str, env: Optional[EnvRisks]
) -> _native.SignableRequest:
    return _native.SignableRequest(
        path=path,
        query=query if isinstance(query, str) else json.dumps(dict(query)),
        body=body.encode("utf-8") if isinstance(body, str) else bytes(body),
        device_id=device_id,
        env=env if env is not None else EnvRisks(),
    )


class RequestSigner:
    """Signs requests with one SDK signing key: ``key_id`` and its 32-byte ``secret`` in base64url
    without padding, exactly as ``AdminService.CreateSigningKey`` returned them."""

    def __init__(self, key_id: str, secret: str) -> None:
        try:
            self._signer = _native.RequestSigner(key_id, secret)
        except _native.GatehouseError as error:
            raise from_native(error) from None

    @property
    def key_id(self) -> str:
        """The key id every token names."""
        return self._signer.key_id()

    def sign(
        self,
        path: str,
        *,
        query: Query = "",
        body: Union[bytes, str] = b"",
        device_id: str = "",
        env: Optional[EnvRisks] = None,
    ) -> str:
        """A token for the request at ``path`` (without the query string), signed now with a
        random nonce. ``device_id`` and ``env`` come from :func:`gatehouse.fingerprint`."""
        try:
            return self._signer.sign(_request(path, query, body, device_id, env))
        except _native.GatehouseError as error:
            raise from_native(error) from None

    def sign_at(
        self,
        path: str,
        *,
        timestamp_ms: int,
        nonce: bytes,
        query: Query = "",
        body: Union[bytes, str] = b"",
        device_id: str = "",
        env: Optional[EnvRisks] = None,
    ) -> str:
        """Like :meth:`sign` at a given time (Unix milliseconds) with a given 16-byte nonce: the
        same inputs give the same token, for test vectors. Use :meth:`sign` for real requests."""
        request = _request(path, query, body, device_id, env)
        try:
            return self._signer.sign_at(request, timestamp_ms, nonce)
        except _native.GatehouseError as error:
            raise from_native(error) from None


def canonical_query(query: Query) -> str:
    """The canonical form of a query, as a signature covers it (sorted, percent-encoded)."""
    try:
        return _native.canonical_query(query if isinstance(query, str) else json.dumps(dict(query)))
    except _native.GatehouseError as error:
        raise from_native(error) from None


__all__ = ["RequestSigner", "canonical_query", "Query"]
