//! MaxMind DB downloads: a plain `.mmdb`, DB-IP Lite's gzip-compressed `.mmdb.gz`
//! (`https://download.db-ip.com/free/dbip-city-lite-YYYY-MM.mmdb.gz`), or MaxMind's GeoLite2
//! `.tar.gz` archive, which holds `GeoLite2-City_YYYYMMDD/GeoLite2-City.mmdb` beside its
//! licence files. Unpacking is bounded, and the result must open as a MaxMind DB and answer a
//! lookup before it may replace the database in use.

use std::io::Read;

use maxminddb::Reader;

use super::FormatError;

/// Unpacks a gzip stream, to at most `max` bytes.
pub fn gunzip(body: &[u8], max: u64) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|error| FormatError::Archive(format!("gzip: {error}")))?;
    if out.len() as u64 > max {
        return Err(FormatError::Archive(format!(
            "unpacks to more than {max} bytes"
        )));
    }
    Ok(out)
}

/// The one `.mmdb` file of a `.tar.gz` archive, to at most `max` bytes.
pub fn untar(body: &[u8], max: u64) -> Result<Vec<u8>, FormatError> {
    let archive_error = |error: std::io::Error| FormatError::Archive(format!("tar.gz: {error}"));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(body));
    for entry in archive.entries().map_err(archive_error)? {
        let entry = entry.map_err(archive_error)?;
        let is_mmdb = entry
            .path()
            .map(|path| path.extension().is_some_and(|ext| ext == "mmdb"))
            .unwrap_or(false);
        if !is_mmdb {
            continue;
        }
        let mut out = Vec::new();
        entry
            .take(max + 1)
            .read_to_end(&mut out)
            .map_err(archive_error)?;
        if out.len() as u64 > max {
            return Err(FormatError::Archive(format!(
                "the database unpacks to more than {max} bytes"
            )));
        }
        return Ok(out);
    }
    Err(FormatError::Archive("no .mmdb file in the archive".into()))
}

/// `bytes` when they open as a MaxMind DB whose search tree and data section verify.
pub fn validate(bytes: Vec<u8>) -> Result<Vec<u8>, FormatError> {
    {
        let reader = Reader::from_source(bytes.as_slice())
            .map_err(|error| FormatError::Database(error.to_string()))?;
        if reader.metadata().node_count == 0 {
            return Err(FormatError::Database("the search tree is empty".into()));
        }
        // The full check walks the tree and decodes every record: a file cut short fails
        // here, in the background, not on the request path later.
        reader
            .verify()
            .map_err(|error| FormatError::Database(error.to_string()))?;
    }
    Ok(bytes)
}

/// The node count of a database's search tree, a measure of its size for the status.
pub fn node_count(bytes: &[u8]) -> Option<usize> {
    let reader = Reader::from_source(bytes).ok()?;
    usize::try_from(reader.metadata().node_count).ok()
}
