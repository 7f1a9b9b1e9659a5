//! Azure service tags (`ServiceTags_Public_YYYYMMDD.json`, published weekly under a new name on
//! the download page `https://www.microsoft.com/en-us/download/details.aspx?id=56519`):
//! `changeNumber`, `cloud`, `values[]` each with `name`, `id` and `properties` holding
//! `addressPrefixes[]`. The `AzureCloud` tag is the union of every region's public ranges, so
//! when present it alone is taken; otherwise every tag's prefixes are.
//!
//! The file's name changes every week, so the feed's URL may be the download page: [`link`]
//! finds the JSON file's address in it.

use serde::Deserialize;

use super::{FormatError, checked_range, json};

#[derive(Deserialize)]
struct ServiceTags {
    #[serde(rename = "changeNumber")]
    _change_number: u64,
    values: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
    properties: Properties,
}

#[derive(Deserialize)]
struct Properties {
    #[serde(rename = "addressPrefixes", default)]
    address_prefixes: Vec<String>,
}

/// The public ranges, duplicates removed.
pub fn parse(body: &[u8]) -> Result<Vec<String>, FormatError> {
    let tags: ServiceTags = json(body, "Azure service tags")?;
    let whole_cloud: Vec<&Tag> = tags
        .values
        .iter()
        .filter(|tag| tag.name == "AzureCloud")
        .collect();
    let chosen: Vec<&Tag> = if whole_cloud.is_empty() {
        tags.values.iter().collect()
    } else {
        whole_cloud
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for tag in chosen {
        for prefix in &tag.properties.address_prefixes {
            let range = checked_range("values[].properties.addressPrefixes[]", prefix)?;
            if seen.insert(range.clone()) {
                out.push(range);
            }
        }
    }
    Ok(out)
}

/// The address of the service tags JSON file that a download page (HTML) links to, if any.
pub fn link(page: &[u8]) -> Option<String> {
    let page = String::from_utf8_lossy(page);
    let mut from = 0;
    while let Some(offset) = page[from..].find("ServiceTags_Public_") {
        let at = from + offset;
        from = at + 1;
        let Some(name_end) = page[at..].find(".json") else {
            break;
        };
        // The URL starts after the quote (or bracket, or space) before the file name.
        let start = page[..at]
            .rfind(['"', '\'', '(', ' ', '\n', '='])
            .map_or(0, |quote| quote + 1);
        let url = &page[start..at + name_end + ".json".len()];
        if (url.starts_with("http://") || url.starts_with("https://"))
            && !url.contains(char::is_whitespace)
        {
            return Some(url.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_published_sample_taking_azurecloud() {
        let sample = include_bytes!("../../../../tests/fixtures/feeds/ServiceTags_Public.json");
        let ranges = parse(sample).unwrap();
        assert_eq!(ranges, ["4.144.0.0/12", "13.64.0.0/16", "2603:1000::/25"]);
    }

    #[test]
    fn finds_the_weekly_file_on_the_download_page() {
        let page = br#"<a href="https://download.microsoft.com/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/ServiceTags_Public_20240520.json" class="mscom-link">click here</a>"#;
        assert_eq!(
            link(page).as_deref(),
            Some(
                "https://download.microsoft.com/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/ServiceTags_Public_20240520.json"
            )
        );
        assert_eq!(link(b"<html>nothing</html>"), None);
    }
}
