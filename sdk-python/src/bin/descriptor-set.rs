//! Writes the contract's encoded `FileDescriptorSet` (with comments) to the file named by the
//! first argument, for `codegen/generate.py`, which turns it into the Python client's typed
//! service classes.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: descriptor-set <output file>");
        return ExitCode::from(2);
    };
    match std::fs::write(&path, gatehouse_proto::FILE_DESCRIPTOR_SET) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("writing {}: {error}", path.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}
