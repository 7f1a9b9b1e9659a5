//! Checks `tests/vectors/signature-v1.json`, the test vectors every SDK
//! (Rust, Node, Python, Kotlin, wasm) must reproduce.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_sdk_core::signature::{
    DEFAULT_VALIDITY_MS, EnvFlags, SignRequest, SigningKey, canonical_query, parse, sign, verify,
};
use serde_json::Value;

fn str_field<'a>(case: &'a Value, name: &str) -> &'a str {
    case[name]
        .as_str()
        .unwrap_or_else(|| panic!("field `{name}` missing or not a string"))
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn signature_v1_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/signature-v1.json"
    );
    let text = std::fs::read_to_string(path).expect("read vectors");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("vectors are a JSON array");
    assert!(cases.len() >= 8, "expected at least 8 vectors");

    for case in &cases {
        let name = str_field(case, "name");
        let key =
            SigningKey::from_base64url(str_field(case, "key_id"), str_field(case, "secret_b64url"))
                .expect("key");
        let body = STANDARD
            .decode(str_field(case, "body_b64"))
            .expect("body_b64");
        let env_names: Vec<&str> = case["env"]
            .as_array()
            .expect("env array")
            .iter()
            .map(|v| v.as_str().expect("env name"))
            .collect();
        let env = EnvFlags::from_names(env_names).expect("known env names");
        assert_eq!(
            u64::from(env.bits()),
            case["env_bits"].as_u64().expect("env_bits"),
            "{name}"
        );
        let timestamp_ms = case["timestamp_ms"].as_i64().expect("timestamp_ms");
        let nonce: [u8; 16] = hex(str_field(case, "nonce_hex"))
            .try_into()
            .expect("16-byte nonce");
        let (path, query) = (str_field(case, "path"), str_field(case, "query"));
        let device_id = str_field(case, "device_id");
        let expected = str_field(case, "token");

        assert_eq!(
            canonical_query(query).expect("canonical query"),
            str_field(case, "canonical_query"),
            "{name}: canonical_query"
        );
        let request = SignRequest {
            path,
            query,
            body: &body,
            device_id,
            env,
        };
        let token = sign(&key, &request, timestamp_ms, nonce).expect("sign");
        assert_eq!(token, expected, "{name}: token");
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&token)
                .expect("b64"),
            hex(str_field(case, "token_hex")),
            "{name}: token_hex"
        );

        let parsed = parse(expected).expect("parse");
        assert_eq!(parsed.key_id, key.key_id, "{name}");
        assert_eq!(parsed.device_id, device_id, "{name}");
        assert_eq!(parsed.env, env, "{name}");
        assert_eq!(parsed.timestamp_ms, timestamp_ms, "{name}");
        assert_eq!(parsed.nonce, nonce, "{name}");
        assert_eq!(
            parsed.encode().as_deref(),
            Some(expected),
            "{name}: round trip"
        );
        assert_eq!(
            verify(
                &parsed,
                &key,
                path,
                query,
                &body,
                timestamp_ms,
                DEFAULT_VALIDITY_MS
            ),
            Ok(()),
            "{name}: verify"
        );
    }
}
