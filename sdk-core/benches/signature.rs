//! Benchmarks signing and parse+verify of a typical request with a 1 KiB body.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_sdk_core::signature::{
    DEFAULT_VALIDITY_MS, EnvFlags, SignRequest, SigningKey, parse, sign, verify,
};

const TIMESTAMP_MS: i64 = 1_750_000_000_000;

fn bench_signature(c: &mut Criterion) {
    let key = SigningKey::new("web_01", [0x42; 32]).expect("key");
    let body: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    let request = SignRequest {
        path: "/api/v1/login",
        query: "redirect=%2Fhome&lang=en&utm_source=newsletter",
        body: &body,
        device_id: "2f1c9a7e-52b4-4c1d-9a0e-8f3b6d2c1a00",
        env: EnvFlags {
            virtual_env: true,
            ..EnvFlags::default()
        },
    };
    let nonce = [7u8; 16];
    let token = sign(&key, &request, TIMESTAMP_MS, nonce).expect("sign");

    c.bench_function("sign (1 KiB body)", |b| {
        b.iter(|| sign(black_box(&key), black_box(&request), TIMESTAMP_MS, nonce))
    });
    c.bench_function("parse+verify (1 KiB body)", |b| {
        b.iter(|| {
            let parsed = parse(black_box(&token)).expect("parse");
            verify(
                &parsed,
                black_box(&key),
                request.path,
                request.query,
                black_box(&body),
                TIMESTAMP_MS,
                DEFAULT_VALIDITY_MS,
            )
        })
    });
}

criterion_group!(benches, bench_signature);
criterion_main!(benches);
