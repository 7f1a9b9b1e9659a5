//! The device fingerprint: records mirroring `gatehouse_sdk_core::fingerprint`, and the one call.

use std::collections::HashMap;

use gatehouse_sdk_core::fingerprint as core;

/// What a platform layer (Android, iOS, a browser) collected about the device. Every field is
/// optional: leave out what was not collected (empty, zero, `None`). Which fields feed the device
/// id and which only the environment flags is described in the core's `fingerprint` module.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct DeviceAttributes {
    /// Platform: `"android"`, `"ios"`, `"web"`, ... (stable).
    #[uniffi(default)]
    pub platform: String,
    /// OS name, e.g. `"Android"`, `"iOS"`, `"Windows"` (stable).
    #[uniffi(default)]
    pub os_name: String,
    /// Full OS version, e.g. `"14.2.1"`; only the major part is stable.
    #[uniffi(default)]
    pub os_version: String,
    /// Locale, e.g. `"en-US"` (stable).
    #[uniffi(default)]
    pub locale: String,
    /// IANA time zone, e.g. `"Europe/Paris"` (stable).
    #[uniffi(default)]
    pub timezone: String,
    /// Screen width in pixels (stable; sorted with the height so rotation does not matter).
    #[uniffi(default)]
    pub screen_width: u32,
    /// Screen height in pixels (stable).
    #[uniffi(default)]
    pub screen_height: u32,
    /// Screen density / device pixel ratio (stable).
    #[uniffi(default)]
    pub screen_density: f32,
    /// Number of CPU cores (stable).
    #[uniffi(default)]
    pub cpu_count: u32,
    /// Total memory in MB (stable, bucketed).
    #[uniffi(default)]
    pub memory_mb: u32,
    /// Per-install random id kept by the app SDK (stable per install; empty on web).
    #[uniffi(default)]
    pub install_id: String,
    /// Device manufacturer (mobile, stable).
    #[uniffi(default)]
    pub manufacturer: String,
    /// Device model (mobile, stable).
    #[uniffi(default)]
    pub model: String,
    /// Android build tags; `"test-keys"` hints at a rooted or custom build (env flag only).
    #[uniffi(default)]
    pub build_tags: String,
    /// Whether an `su` binary was found (env flag only).
    #[uniffi(default)]
    pub su_paths_found: bool,
    /// Emulator indications found by the platform layer (env flag only).
    #[uniffi(default)]
    pub emulator_hints: Vec<String>,
    /// Hooking framework indications: frida, xposed, substrate (env flag only).
    #[uniffi(default)]
    pub hooking_hints: Vec<String>,
    /// Whether a debugger is attached (env flag only).
    #[uniffi(default)]
    pub debugger_attached: bool,
    /// Browser user agent; only its browser and OS families are stable.
    #[uniffi(default)]
    pub user_agent: String,
    /// `navigator.languages` (stable, sorted).
    #[uniffi(default)]
    pub languages: Vec<String>,
    /// `navigator.platform` (stable).
    #[uniffi(default)]
    pub browser_platform: String,
    /// `navigator.hardwareConcurrency` (stable).
    #[uniffi(default)]
    pub hardware_concurrency: u32,
    /// `navigator.deviceMemory` in GB (stable).
    #[uniffi(default)]
    pub device_memory_gb: f32,
    /// Hash of a rendered canvas (stable).
    #[uniffi(default)]
    pub canvas_hash: String,
    /// Unmasked WebGL vendor (stable).
    #[uniffi(default)]
    pub webgl_vendor: String,
    /// Unmasked WebGL renderer (stable).
    #[uniffi(default)]
    pub webgl_renderer: String,
    /// Hash of an offline audio rendering (stable).
    #[uniffi(default)]
    pub audio_hash: String,
    /// Detected fonts (stable, sorted and deduplicated).
    #[uniffi(default)]
    pub fonts: Vec<String>,
    /// `navigator.webdriver` (env flag only).
    #[uniffi(default)]
    pub webdriver: bool,
    /// Headless browser indications (env flag only).
    #[uniffi(default)]
    pub headless_hints: Vec<String>,
    /// Browser version (volatile: never feeds the id).
    #[uniffi(default)]
    pub browser_version: String,
    /// Battery level 0..=1 (volatile: never feeds the id).
    #[uniffi(default)]
    pub battery_level: Option<f32>,
    /// Window width (volatile: never feeds the id).
    #[uniffi(default)]
    pub window_width: u32,
    /// Window height (volatile: never feeds the id).
    #[uniffi(default)]
    pub window_height: u32,
}

impl From<DeviceAttributes> for core::DeviceAttributes {
    fn from(attributes: DeviceAttributes) -> Self {
        // Destructured in full, so a field added to the core does not go unmapped.
        let DeviceAttributes {
            platform,
            os_name,
            os_version,
            locale,
            timezone,
            screen_width,
            screen_height,
            screen_density,
            cpu_count,
            memory_mb,
            install_id,
            manufacturer,
            model,
            build_tags,
            su_paths_found,
            emulator_hints,
            hooking_hints,
            debugger_attached,
            user_agent,
            languages,
            browser_platform,
            hardware_concurrency,
            device_memory_gb,
            canvas_hash,
            webgl_vendor,
            webgl_renderer,
            audio_hash,
            fonts,
            webdriver,
            headless_hints,
            browser_version,
            battery_level,
            window_width,
            window_height,
        } = attributes;
        core::DeviceAttributes {
            platform,
            os_name,
            os_version,
            locale,
            timezone,
            screen_width,
            screen_height,
            screen_density,
            cpu_count,
            memory_mb,
            install_id,
            manufacturer,
            model,
            build_tags,
            su_paths_found,
            emulator_hints,
            hooking_hints,
            debugger_attached,
            user_agent,
            languages,
            browser_platform,
            hardware_concurrency,
            device_memory_gb,
            canvas_hash,
            webgl_vendor,
            webgl_renderer,
            audio_hash,
            fonts,
            webdriver,
            headless_hints,
            browser_version,
            battery_level,
            window_width,
            window_height,
        }
    }
}

/// Environment risks of a device; they never change its id, and a signature carries them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Record)]
pub struct EnvRisks {
    /// Rooted or jailbroken: `test-keys` build tags or an `su` binary.
    #[uniffi(default)]
    pub root: bool,
    /// Hooking framework present or debugger attached.
    #[uniffi(default)]
    pub hack: bool,
    /// Emulator or virtual machine (`virtualEnv`).
    #[uniffi(default)]
    pub virtual_env: bool,
    /// Automated or headless browser.
    #[uniffi(default)]
    pub crawler: bool,
}

impl From<core::EnvRisks> for EnvRisks {
    fn from(env: core::EnvRisks) -> Self {
        let core::EnvRisks {
            root,
            hack,
            virtual_env,
            crawler,
        } = env;
        Self {
            root,
            hack,
            virtual_env,
            crawler,
        }
    }
}

/// The fingerprint of one device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Fingerprint {
    /// `"dev_"` followed by 32 lowercase hex digits; stable across volatile changes.
    pub device_id: String,
    /// Component name to the 16-hex-digit hash of its canonical value (collected components only).
    pub components: HashMap<String, String>,
    /// Environment risks.
    pub env: EnvRisks,
}

/// Computes the fingerprint of `attributes`.
#[uniffi::export]
pub fn fingerprint(attributes: DeviceAttributes) -> Fingerprint {
    let fingerprint = core::fingerprint(&attributes.into());
    Fingerprint {
        device_id: fingerprint.device_id,
        components: fingerprint.components.into_iter().collect(),
        env: fingerprint.env.into(),
    }
}
