//! WebAssembly bindings of `gatehouse-sdk-core` for the web SDK (`sdk-web/`): a browser's device
//! fingerprint and request signatures, computed by the same Rust code every other SDK runs.
//!
//! Conversions only. Attributes cross the boundary as JSON (the TypeScript layer types them), and
//! the clock and the nonce come from the host: `wasm32-unknown-unknown` has neither a system clock
//! nor an OS random source, so JavaScript passes `Date.now()` and `crypto.getRandomValues` output.

use std::collections::BTreeMap;

use gatehouse_sdk_core::{
    fingerprint::{DeviceAttributes, EnvRisks, fingerprint},
    signature::{self, EnvFlags, SignRequest, SigningKey},
};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

/// What a browser can collect, as camelCase JSON; absent fields are "not collected". Mirrors the
/// browser part of [`DeviceAttributes`] (see there for what feeds the device id).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct BrowserAttributes {
    /// OS name, for example from `navigator.userAgentData.platform` (`"Windows"`).
    pub os_name: String,
    /// OS version; only its major part feeds the id.
    pub os_version: String,
    /// `navigator.userAgent`.
    pub user_agent: String,
    /// `navigator.languages`.
    pub languages: Vec<String>,
    /// `navigator.language`.
    pub locale: String,
    /// `Intl.DateTimeFormat().resolvedOptions().timeZone`.
    pub timezone: String,
    /// `screen.width`.
    pub screen_width: u32,
    /// `screen.height`.
    pub screen_height: u32,
    /// `devicePixelRatio`.
    pub screen_density: f32,
    /// `navigator.platform`.
    pub browser_platform: String,
    /// `navigator.hardwareConcurrency`.
    pub hardware_concurrency: u32,
    /// `navigator.deviceMemory`, in GB.
    pub device_memory_gb: f32,
    /// Hash of a rendered canvas.
    pub canvas_hash: String,
    /// Unmasked WebGL vendor.
    pub webgl_vendor: String,
    /// Unmasked WebGL renderer.
    pub webgl_renderer: String,
    /// Hash of an offline audio rendering.
    pub audio_hash: String,
    /// Fonts found by the probe.
    pub fonts: Vec<String>,
    /// `navigator.webdriver`.
    pub webdriver: bool,
    /// Headless and automation indications.
    pub headless_hints: Vec<String>,
    /// Browser version (volatile).
    pub browser_version: String,
    /// `innerWidth` (volatile).
    pub window_width: u32,
    /// `innerHeight` (volatile).
    pub window_height: u32,
}

impl From<BrowserAttributes> for DeviceAttributes {
    fn from(a: BrowserAttributes) -> Self {
        Self {
            platform: "web".to_owned(),
            os_name: a.os_name,
            os_version: a.os_version,
            locale: a.locale,
            timezone: a.timezone,
            screen_width: a.screen_width,
            screen_height: a.screen_height,
            screen_density: a.screen_density,
            user_agent: a.user_agent,
            languages: a.languages,
            browser_platform: a.browser_platform,
            hardware_concurrency: a.hardware_concurrency,
            device_memory_gb: a.device_memory_gb,
            canvas_hash: a.canvas_hash,
            webgl_vendor: a.webgl_vendor,
            webgl_renderer: a.webgl_renderer,
            audio_hash: a.audio_hash,
            fonts: a.fonts,
            webdriver: a.webdriver,
            headless_hints: a.headless_hints,
            browser_version: a.browser_version,
            window_width: a.window_width,
            window_height: a.window_height,
            ..Self::default()
        }
    }
}

/// The fingerprint as camelCase JSON.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FingerprintJson {
    device_id: String,
    components: BTreeMap<String, String>,
    /// Names of the set flags: `root`, `hack`, `virtualEnv`, `crawler`.
    env: Vec<&'static str>,
    /// The same flags as the signature's `env_flags` byte.
    env_bits: u8,
}

fn env_flags(risks: EnvRisks) -> EnvFlags {
    EnvFlags {
        root: risks.root,
        hack: risks.hack,
        virtual_env: risks.virtual_env,
        crawler: risks.crawler,
    }
}

fn fingerprint_of(attributes_json: &str) -> Result<String, serde_json::Error> {
    let attributes: BrowserAttributes = serde_json::from_str(attributes_json)?;
    let fingerprint = fingerprint(&attributes.into());
    let env = env_flags(fingerprint.env);
    serde_json::to_string(&FingerprintJson {
        device_id: fingerprint.device_id,
        components: fingerprint.components,
        env: env.names(),
        env_bits: env.bits(),
    })
}

/// Computes the fingerprint of a browser: `attributes` is [`BrowserAttributes`] as JSON; returns
/// `{"deviceId", "components", "env", "envBits"}` as JSON.
#[wasm_bindgen(js_name = fingerprint)]
pub fn fingerprint_json(attributes_json: &str) -> Result<String, JsError> {
    fingerprint_of(attributes_json).map_err(|error| JsError::new(&format!("attributes: {error}")))
}

/// The canonical form of a query string or JSON object, as the signature hashes it.
#[wasm_bindgen(js_name = canonicalQuery)]
pub fn canonical_query(query: &str) -> Result<String, JsError> {
    signature::canonical_query(query).map_err(|error| JsError::new(&error.to_string()))
}

/// Signs requests with one SDK signing key for one device (token format v1).
#[wasm_bindgen]
#[derive(Debug)]
pub struct Signer {
    key: SigningKey,
    device_id: String,
    env: EnvFlags,
}

#[wasm_bindgen]
impl Signer {
    /// A signer from the signing key's id and its 32-byte secret (base64url without padding), the
    /// device id and the env flags byte of the device's fingerprint.
    #[wasm_bindgen(constructor)]
    pub fn new(
        key_id: &str,
        secret_b64url: &str,
        device_id: String,
        env_bits: u8,
    ) -> Result<Signer, JsError> {
        let key = SigningKey::from_base64url(key_id, secret_b64url)
            .map_err(|error| JsError::new(&error.to_string()))?;
        let env = EnvFlags::from_bits(env_bits)
            .ok_or_else(|| JsError::new("invalid env_bits: only bits 0-3 may be set"))?;
        Ok(Self {
            key,
            device_id,
            env,
        })
    }

    /// The token over `path`, `query` and `body`, signed at `timestamp_ms` (Unix milliseconds,
    /// a BigInt) with a 16-byte random `nonce`.
    pub fn sign(
        &self,
        path: &str,
        query: &str,
        body: &[u8],
        timestamp_ms: i64,
        nonce: &[u8],
    ) -> Result<String, JsError> {
        let nonce: [u8; 16] = nonce
            .try_into()
            .map_err(|_| JsError::new("invalid nonce: must be exactly 16 bytes"))?;
        let request = SignRequest {
            path,
            query,
            body,
            device_id: &self.device_id,
            env: self.env,
        };
        signature::sign(&self.key, &request, timestamp_ms, nonce)
            .map_err(|error| JsError::new(&error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_attributes_become_a_web_fingerprint() {
        let json = r#"{"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
            "languages":["en-US","en"],"timezone":"Europe/Berlin","screenWidth":1280,"screenHeight":720,
            "canvasHash":"00ff","webdriver":true}"#;
        let out: serde_json::Value =
            serde_json::from_str(&fingerprint_of(json).expect("fingerprint")).expect("json");
        let attributes: BrowserAttributes = serde_json::from_str(json).expect("attributes");
        let expected = fingerprint(&attributes.into());
        assert_eq!(out["deviceId"], expected.device_id.as_str());
        assert_eq!(
            out["components"]["platform"],
            expected.components["platform"]
        );
        assert_eq!(out["env"], serde_json::json!(["crawler"]));
        assert_eq!(out["envBits"], 8);
    }

    #[test]
    fn unknown_attribute_names_are_refused() {
        let error = fingerprint_of(r#"{"userAgnet":"x"}"#).expect_err("typo");
        assert!(error.to_string().contains("userAgnet"), "{error}");
    }
}
