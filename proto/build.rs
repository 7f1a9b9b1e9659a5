//! Compiles `proto/gatehouse/v1/*.proto` with protox (pure Rust, no system `protoc`) and hands the
//! descriptors to tonic-prost-build. Which halves are generated follows the crate features, so the
//! SDK side builds without server code.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let proto_dir = manifest_dir.join("gatehouse").join("v1");
    let mut files: Vec<PathBuf> = fs::read_dir(&proto_dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let descriptors = protox::compile(&files, [&manifest_dir])?;

    // tonic-prost-build's compile_fds does not write the descriptor set that server reflection
    // needs, so write it ourselves.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("gatehouse_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        // prost's codec, but a body that does not decode is INVALID_ARGUMENT, not INTERNAL.
        .codec_path("crate::codec::Codec")
        .build_server(env::var_os("CARGO_FEATURE_SERVER").is_some())
        .build_client(env::var_os("CARGO_FEATURE_CLIENT").is_some())
        .compile_fds(descriptors)?;
    Ok(())
}
