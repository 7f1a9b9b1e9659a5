//! The device fingerprint: JavaScript attributes in, `{deviceId, components, env}` out.

use std::collections::BTreeMap;

use gatehouse_sdk_core::fingerprint as core;
use napi_derive::napi;

/// What a platform layer collected about a device; every field is optional (absent means not
/// collected). See the core's `fingerprint` module for which attributes feed the device id.
#[napi(object)]
pub struct DeviceAttributes {
    /// `"android"`, `"ios"`, `"web"`, ...
    pub platform: Option<String>,
    /// OS name, e.g. `"Android"`, `"iOS"`, `"Windows"`.
    pub os_name: Option<String>,
    /// Full OS version, e.g. `"14.2.1"`; only the major part feeds the id.
    pub os_version: Option<String>,
    /// Locale, e.g. `"en-US"`.
    pub locale: Option<String>,
    /// IANA time zone, e.g. `"Europe/Paris"`.
    pub timezone: Option<String>,
    /// Screen width in pixels.
    pub screen_width: Option<u32>,
    /// Screen height in pixels.
    pub screen_height: Option<u32>,
    /// Screen density / device pixel ratio.
    pub screen_density: Option<f64>,
    /// Number of CPU cores.
    pub cpu_count: Option<u32>,
    /// Total memory in MB.
    pub memory_mb: Option<u32>,
    /// Per-install random id kept by an app (empty on the web).
    pub install_id: Option<String>,
    /// Device manufacturer.
    pub manufacturer: Option<String>,
    /// Device model.
    pub model: Option<String>,
    /// Android build tags (`"test-keys"` hints at root).
    pub build_tags: Option<String>,
    /// Whether an `su` binary was found.
    pub su_paths_found: Option<bool>,
    /// Emulator indications.
    pub emulator_hints: Option<Vec<String>>,
    /// Hooking framework indications (frida, xposed, substrate).
    pub hooking_hints: Option<Vec<String>>,
    /// Whether a debugger is attached.
    pub debugger_attached: Option<bool>,
    /// Browser user agent.
    pub user_agent: Option<String>,
    /// `navigator.languages`.
    pub languages: Option<Vec<String>>,
    /// `navigator.platform`.
    pub browser_platform: Option<String>,
    /// `navigator.hardwareConcurrency`.
    pub hardware_concurrency: Option<u32>,
    /// `navigator.deviceMemory` in GB.
    pub device_memory_gb: Option<f64>,
    /// Hash of a rendered canvas.
    pub canvas_hash: Option<String>,
    /// Unmasked WebGL vendor.
    pub webgl_vendor: Option<String>,
    /// Unmasked WebGL renderer.
    pub webgl_renderer: Option<String>,
    /// Hash of an offline audio rendering.
    pub audio_hash: Option<String>,
    /// Detected fonts.
    pub fonts: Option<Vec<String>>,
    /// `navigator.webdriver`.
    pub webdriver: Option<bool>,
    /// Headless browser indications.
    pub headless_hints: Option<Vec<String>>,
    /// Browser version (never feeds the id).
    pub browser_version: Option<String>,
    /// Battery level 0..=1 (never feeds the id).
    pub battery_level: Option<f64>,
    /// Window width (never feeds the id).
    pub window_width: Option<u32>,
    /// Window height (never feeds the id).
    pub window_height: Option<u32>,
}

impl From<DeviceAttributes> for core::DeviceAttributes {
    fn from(js: DeviceAttributes) -> Self {
        // JavaScript numbers are f64; the core keeps densities and sizes as f32.
        let float = |value: Option<f64>| value.unwrap_or_default() as f32;
        Self {
            platform: js.platform.unwrap_or_default(),
            os_name: js.os_name.unwrap_or_default(),
            os_version: js.os_version.unwrap_or_default(),
            locale: js.locale.unwrap_or_default(),
            timezone: js.timezone.unwrap_or_default(),
            screen_width: js.screen_width.unwrap_or_default(),
            screen_height: js.screen_height.unwrap_or_default(),
            screen_density: float(js.screen_density),
            cpu_count: js.cpu_count.unwrap_or_default(),
            memory_mb: js.memory_mb.unwrap_or_default(),
            install_id: js.install_id.unwrap_or_default(),
            manufacturer: js.manufacturer.unwrap_or_default(),
            model: js.model.unwrap_or_default(),
            build_tags: js.build_tags.unwrap_or_default(),
            su_paths_found: js.su_paths_found.unwrap_or_default(),
            emulator_hints: js.emulator_hints.unwrap_or_default(),
            hooking_hints: js.hooking_hints.unwrap_or_default(),
            debugger_attached: js.debugger_attached.unwrap_or_default(),
            user_agent: js.user_agent.unwrap_or_default(),
            languages: js.languages.unwrap_or_default(),
            browser_platform: js.browser_platform.unwrap_or_default(),
            hardware_concurrency: js.hardware_concurrency.unwrap_or_default(),
            device_memory_gb: float(js.device_memory_gb),
            canvas_hash: js.canvas_hash.unwrap_or_default(),
            webgl_vendor: js.webgl_vendor.unwrap_or_default(),
            webgl_renderer: js.webgl_renderer.unwrap_or_default(),
            audio_hash: js.audio_hash.unwrap_or_default(),
            fonts: js.fonts.unwrap_or_default(),
            webdriver: js.webdriver.unwrap_or_default(),
            headless_hints: js.headless_hints.unwrap_or_default(),
            browser_version: js.browser_version.unwrap_or_default(),
            battery_level: js.battery_level.map(|level| level as f32),
            window_width: js.window_width.unwrap_or_default(),
            window_height: js.window_height.unwrap_or_default(),
        }
    }
}

/// Environment risks found on a device; they never change its id. The same shape is accepted
/// as `env` by `sign`.
#[napi(object)]
pub struct EnvRisks {
    /// Rooted or jailbroken.
    pub root: bool,
    /// Hooking framework present or debugger attached.
    pub hack: bool,
    /// Emulator or virtual machine.
    pub virtual_env: bool,
    /// Automated or headless browser.
    pub crawler: bool,
}

/// The fingerprint of one device.
#[napi(object)]
pub struct Fingerprint {
    /// `"dev_"` followed by 32 lowercase hex digits.
    pub device_id: String,
    /// Component name to the 16-hex-digit hash of its value (collected components only).
    pub components: BTreeMap<String, String>,
    /// Environment risks.
    pub env: EnvRisks,
}

/// Computes the fingerprint of a device from the attributes a platform layer collected.
///
/// Synchronous only: it hashes a few hundred bytes in microseconds, less than handing it to a
/// worker thread would cost.
#[napi]
pub fn fingerprint(attributes: DeviceAttributes) -> Fingerprint {
    let fingerprint = core::fingerprint(&attributes.into());
    Fingerprint {
        device_id: fingerprint.device_id,
        components: fingerprint.components,
        env: EnvRisks {
            root: fingerprint.env.root,
            hack: fingerprint.env.hack,
            virtual_env: fingerprint.env.virtual_env,
            crawler: fingerprint.env.crawler,
        },
    }
}
