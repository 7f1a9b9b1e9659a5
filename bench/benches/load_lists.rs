//! Loading the IP list folder at full size: the 852 500 entries `gatehouse-bench lists` writes
//! (seed 1, scale 1.0), read by `IpListTables::load_dir` as the server does at start-up and on
//! every hot reload. Run with `cargo bench -p gatehouse-bench --bench load_lists`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_bench::lists;
use gatehouse_server::intel::ip_lists::IpListTables;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let written = lists::write(dir.path(), &lists::generate(1, 1.0)).unwrap();
    let mut group = c.benchmark_group("ip_lists");
    // One load takes most of a second: ten samples are enough to see a change.
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function(format!("load_dir_{written}_entries"), |b| {
        b.iter(|| IpListTables::load_dir(dir.path()).unwrap());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
