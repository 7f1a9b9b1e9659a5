"""Starts a real `gatehouse serve` for the session and creates a tenant on it.

The binary is $GATEHOUSE_BIN, else $CARGO_TARGET_DIR/debug/gatehouse (build it with
`cargo build -p gatehouse-server`).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

import gatehouse

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Server:
    endpoint: str
    admin_token: str
    tenant_id: str
    publishable_key: str
    secret_key: str


def _binary() -> Path:
    if "GATEHOUSE_BIN" in os.environ:
        return Path(os.environ["GATEHOUSE_BIN"])
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "gatehouse-target"))
    return Path(target) / "debug" / "gatehouse"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gatehouse exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"gatehouse was not healthy within 60 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    binary = _binary()
    if not binary.is_file():
        pytest.fail(f"no gatehouse binary at {binary}: run `cargo build -p gatehouse-server`")
    admin_token = "adm_" + secrets.token_hex(16)
    grpc_port, http_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="gatehouse-pytest-") as data_dir:
        log = Path(data_dir) / "server.log"
        env = dict(os.environ, GATEHOUSE_ADMIN_TOKEN=admin_token, GATEHOUSE_RDNS_ENABLED="false")
        with log.open("w") as log_file:
            process = subprocess.Popen(
                [
                    str(binary),
                    "serve",
                    "--listen", f"127.0.0.1:{grpc_port}",
                    "--http-listen", f"127.0.0.1:{http_port}",
                    "--data-dir", str(Path(data_dir) / "data"),
                ],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_healthy(process, f"http://127.0.0.1:{http_port}/healthz", log)
            endpoint = f"http://127.0.0.1:{grpc_port}"
            created = gatehouse.Gatehouse(endpoint, admin_token).admin.create_tenant({"name": "pytest"})
            yield Server(
                endpoint=endpoint,
                admin_token=admin_token,
                tenant_id=created["tenant"]["tenant_id"],
                publishable_key=created["publishable_key"],
                secret_key=created["secret_key"],
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def admin(server: Server) -> gatehouse.Gatehouse:
    return gatehouse.Gatehouse(server.endpoint, server.admin_token)


@pytest.fixture(scope="session")
def client(server: Server) -> gatehouse.Gatehouse:
    """A blocking client with the tenant's secret key."""
    return gatehouse.Gatehouse(server.endpoint, server.secret_key)


@pytest.fixture(scope="session")
def android_phone() -> gatehouse.DeviceAttributes:
    """The sample phone of sdk-core's known-answer test."""
    return gatehouse.DeviceAttributes(
        platform="android",
        os_name="Android",
        os_version="14.0.2",
        locale="en_US",
        timezone="America/Chicago",
        screen_width=1080,
        screen_height=2400,
        screen_density=2.625,
        cpu_count=8,
        memory_mb=7634,
        install_id="3f9a1c0e5b7d4a21",
        manufacturer="samsung",
        model="SM-S911B",
        build_tags="release-keys",
        battery_level=0.81,
    )
