"""The fingerprint and the signature through the binding: the same answers as sdk-core."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

import gatehouse
from gatehouse import _services

from conftest import REPO

VECTORS = json.loads((REPO / "sdk-core" / "tests" / "vectors" / "signature-v1.json").read_text())
ENV_NAMES = {"root": "root", "hack": "hack", "virtualEnv": "virtual_env", "crawler": "crawler"}


def test_fingerprint_of_the_sample_phone_is_the_cores_known_answer(android_phone):
    fp = gatehouse.fingerprint(android_phone)
    assert fp.device_id == "dev_c27ce081c8f35d0578ea25208f2cf54f"
    assert fp.env == gatehouse.EnvRisks()
    assert "install_id" in fp.components and "model" in fp.components
    assert all(len(value) == 16 for value in fp.components.values())


def test_volatile_attributes_keep_the_id_and_env_flags_are_reported_beside_it(android_phone):
    changed = gatehouse.DeviceAttributes(**{**vars(android_phone), "os_version": "14.0.9", "battery_level": 0.2})
    rooted = gatehouse.DeviceAttributes(**{**vars(android_phone), "build_tags": "test-keys"})
    assert gatehouse.fingerprint(changed).device_id == gatehouse.fingerprint(android_phone).device_id
    fp = gatehouse.fingerprint(rooted)
    assert fp.device_id == gatehouse.fingerprint(android_phone).device_id
    assert fp.env == gatehouse.EnvRisks(root=True)
    empty = gatehouse.DeviceAttributes()
    assert empty.fonts == [] and empty.battery_level is None
    assert gatehouse.fingerprint(empty).device_id.startswith("dev_")


@pytest.mark.parametrize("case", VECTORS, ids=[case["name"] for case in VECTORS])
def test_signature_vectors(case):
    signer = gatehouse.RequestSigner(case["key_id"], case["secret_b64url"])
    env = gatehouse.EnvRisks(**{ENV_NAMES[name]: True for name in case["env"]})
    token = signer.sign_at(
        case["path"],
        query=case["query"],
        body=base64.b64decode(case["body_b64"]),
        device_id=case["device_id"],
        env=env,
        timestamp_ms=case["timestamp_ms"],
        nonce=bytes.fromhex(case["nonce_hex"]),
    )
    assert token == case["token"]
    assert base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).hex() == case["token_hex"]
    assert gatehouse.canonical_query(case["query"]) == case["canonical_query"]
    assert signer.key_id == case["key_id"]


def test_vectors_are_all_there():
    assert len(VECTORS) >= 8


def test_a_query_mapping_signs_like_its_json_text():
    case = next(case for case in VECTORS if case["query"].startswith("{"))
    signer = gatehouse.RequestSigner(case["key_id"], case["secret_b64url"])
    common = dict(timestamp_ms=1, nonce=bytes(16), path="/p")
    assert signer.sign_at(query=json.loads(case["query"]), **common) == signer.sign_at(query=case["query"], **common)


def test_fresh_tokens_differ_by_nonce_and_time():
    signer = gatehouse.RequestSigner("k1", VECTORS[0]["secret_b64url"])
    assert signer.sign("/a") != signer.sign("/a")


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: gatehouse.RequestSigner("k1", "too-short"), "secret"),
        (lambda: gatehouse.RequestSigner("bad key id!", VECTORS[0]["secret_b64url"]), "key_id"),
        (lambda: gatehouse.RequestSigner("k1", VECTORS[0]["secret_b64url"]).sign_at("/", timestamp_ms=1, nonce=b"short"), "nonce"),
        (lambda: gatehouse.RequestSigner("k1", VECTORS[0]["secret_b64url"]).sign("/", device_id="é" * 3), "device_id"),
        (lambda: gatehouse.canonical_query('{"a": [1]}'), "query"),
    ],
)
def test_bad_signing_input_is_an_invalid_request_naming_the_field(make, field):
    with pytest.raises(gatehouse.InvalidRequestError) as raised:
        make()
    assert raised.value.reason == "INVALID_REQUEST"
    assert raised.value.field == field
    assert str(raised.value).startswith("INVALID_REQUEST: ")


def test_the_generated_surface_covers_every_rpc_of_the_core():
    assert sorted(_services.RPCS) == sorted(gatehouse.methods())
    client = gatehouse.Gatehouse("http://127.0.0.1:1", "sk_unused")
    for rpc in _services.RPCS:
        service, method = rpc.split("/")
        attribute = next(name for name, value in vars(client).items() if type(value).__name__ == service)
        snake = "".join("_" + c.lower() if c.isupper() else c for c in method).lstrip("_")
        assert callable(getattr(getattr(client, attribute), snake)), rpc

