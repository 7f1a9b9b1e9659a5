"""The clients: :class:`AsyncGatehouse` for asyncio, :class:`Gatehouse` for blocking code.

Both reach every service as an attribute (``client.signals``, ``client.identities``,
``client.decisions``, ``client.blocker``, ``client.smart_urls``, ``client.verify``,
``client.admin``) with one method per RPC. Requests and responses are plain dicts in the protobuf
JSON mapping with the ``.proto`` field names; :mod:`gatehouse.types` types each of them.
Timeouts, retries of calls that are safe to repeat, and the mapping of failures to
:mod:`gatehouse.errors` are done once, in the Rust core.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from typing import Any, Coroutine, List, Mapping, Optional, TypeVar

from . import _native
from ._services import AsyncServices, BlockingServices
from .errors import from_native

T = TypeVar("T")


def _encode(request: Optional[Mapping[str, Any]]) -> str:
    # bytes fields are base64 text in protobuf JSON
    def bytes_as_base64(value: Any) -> str:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(value)).decode("ascii")
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    return json.dumps(dict(request or {}), default=bytes_as_base64)


def _native_client(
    endpoint: str,
    api_key: str,
    timeout: Optional[float],
    connect_timeout: Optional[float],
    max_attempts: Optional[int],
) -> _native.GatehouseClient:
    def millis(seconds: Optional[float]) -> Optional[int]:
        return None if seconds is None else int(seconds * 1000)

    options = _native.ClientOptions(
        timeout_ms=millis(timeout),
        connect_timeout_ms=millis(connect_timeout),
        max_attempts=max_attempts,
    )
    try:
        return _native.GatehouseClient.with_options(endpoint, api_key, options)
    except _native.GatehouseError as error:
        raise from_native(error) from None


async def _call(client: _native.GatehouseClient, method: str, request: Optional[Mapping[str, Any]]) -> Any:
    body = _encode(request)
    try:
        response = await client.call_json(method, body)
    except _native.GatehouseError as error:
        raise from_native(error) from None
    return json.loads(response)


class AsyncGatehouse(AsyncServices):
    """A client of every Gatehouse service for asyncio code.

    ``endpoint`` is the server's gRPC address (``http://host:port``); ``api_key`` a publishable
    (``pk_...``), secret (``sk_...``) or admin key. ``timeout`` and ``connect_timeout`` are in
    seconds; ``max_attempts`` counts the first try of calls that are safe to repeat. The
    connection is made on the first call; share one client, calls may run concurrently::

        client = AsyncGatehouse("http://127.0.0.1:50051", "sk_...")
        visitor = await client.blocker.check_visitor({"ip": "81.2.69.160", "ua": ua, "url": "/"})
    """

    def __init__(
        self,
        endpoint: str,
        api_key: str,
        *,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_attempts: Optional[int] = None,
    ) -> None:
        self._client = _native_client(endpoint, api_key, timeout, connect_timeout, max_attempts)
        self._bind_services(self.call)

    async def call(self, method: str, request: Optional[Mapping[str, Any]] = None) -> Any:
        """Calls ``Service/Method`` by name with a request dict; returns the response dict."""
        return await _call(self._client, method, request)


class _LoopThread:
    """One event loop on a daemon thread that runs the blocking client's calls, so blocking calls
    work anywhere, also inside a running event loop (a notebook, a web framework)."""

    _lock = threading.Lock()
    _loop: Optional[asyncio.AbstractEventLoop] = None

    @classmethod
    def run(cls, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, cls._get()).result()

    @classmethod
    def _get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="gatehouse", daemon=True).start()
                cls._loop = loop
            return cls._loop


class Gatehouse(BlockingServices):
    """A client of every Gatehouse service for blocking code; the same options as
    :class:`AsyncGatehouse`::

        client = Gatehouse("http://127.0.0.1:50051", "sk_...")
        visitor = client.blocker.check_visitor({"ip": "81.2.69.160", "ua": ua, "url": "/"})
    """

    def __init__(
        self,
        endpoint: str,
        api_key: str,
        *,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_attempts: Optional[int] = None,
    ) -> None:
        self._client = _native_client(endpoint, api_key, timeout, connect_timeout, max_attempts)
        self._bind_services(self.call)

    def call(self, method: str, request: Optional[Mapping[str, Any]] = None) -> Any:
        """Calls ``Service/Method`` by name with a request dict; returns the response dict."""
        return _LoopThread.run(_call(self._client, method, request))


def methods() -> List[str]:
    """Every RPC the server offers, as ``Service/Method``."""
    return list(_native.methods())


__all__ = ["AsyncGatehouse", "Gatehouse", "methods"]
