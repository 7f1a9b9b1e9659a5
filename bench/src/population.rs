//! The people and machines the benchmark's data is made of: public addresses (with the share
//! that sits on datacenter, proxy, VPN, Tor and reputation lists), a pool of about 3 000 real-
//! looking browser user agents drawn with a long tail (real traffic repeats a few thousand), bot
//! user agents, devices, landing URLs and attack probes. Every value is a pure function of the
//! seed and an index, so the seeded data and the request files agree on ids and addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand::{Rng, SeedableRng, rngs::SmallRng};

use crate::lists::{ListEntry, ListFile, entries_of};

/// IPv4 networks that are not on the public internet, as (first, last).
const RESERVED_V4: &[(u32, u32)] = &[
    (0x0000_0000, 0x00ff_ffff), // 0/8
    (0x0a00_0000, 0x0aff_ffff), // 10/8
    (0x6440_0000, 0x647f_ffff), // 100.64/10
    (0x7f00_0000, 0x7fff_ffff), // 127/8
    (0xa9fe_0000, 0xa9fe_ffff), // 169.254/16
    (0xac10_0000, 0xac1f_ffff), // 172.16/12
    (0xc000_0000, 0xc000_00ff), // 192.0.0/24
    (0xc000_0200, 0xc000_02ff), // 192.0.2/24
    (0xc0a8_0000, 0xc0a8_ffff), // 192.168/16
    (0xc612_0000, 0xc613_ffff), // 198.18/15
    (0xc633_6400, 0xc633_64ff), // 198.51.100/24
    (0xcb00_7100, 0xcb00_71ff), // 203.0.113/24
    (0xe000_0000, 0xffff_ffff), // 224/3
];

/// A public IPv4 address.
pub fn public_ipv4(rng: &mut impl Rng) -> Ipv4Addr {
    loop {
        let raw: u32 = rng.random();
        if !RESERVED_V4
            .iter()
            .any(|(first, last)| (*first..=*last).contains(&raw))
        {
            return Ipv4Addr::from(raw);
        }
    }
}

/// A global unicast IPv6 address (2000::/4).
pub fn public_ipv6(rng: &mut impl Rng) -> Ipv6Addr {
    Ipv6Addr::from((0x2u128 << 124) | (rng.random::<u128>() >> 4))
}

/// SplitMix64: a well-mixed 64-bit value from a seed and an index.
pub fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random source for entity `index` of the kind `salt`: the same every time.
pub fn entity_rng(seed: u64, salt: u64, index: u64) -> SmallRng {
    SmallRng::seed_from_u64(mix(seed ^ salt.rotate_left(17), index))
}

/// The tenant's user id of identity `n`.
pub fn user_id(n: u64) -> String {
    format!("user-{n:07}")
}

/// The visitor id of visitor `n`.
pub fn visitor_id(n: u64) -> String {
    format!("vis-{n:07}")
}

/// The device id of device `n`.
pub fn device_id(seed: u64, n: u64) -> String {
    format!("dev_{:016x}", mix(seed ^ 0x00de_71ce, n))
}

/// Where requests come from: mostly residential addresses (random public IPv4, some IPv6), and
/// a share drawn from the lists: 6% datacenter, 2% proxy, 1% VPN, 1% Tor, 2% reputation.
pub struct Addresses {
    datacenter: Vec<ListEntry>,
    proxy: Vec<ListEntry>,
    vpn: Vec<ListEntry>,
    tor: Vec<ListEntry>,
    reputation: Vec<ListEntry>,
}

impl Addresses {
    /// The mix over the entries of `lists`.
    pub fn new(lists: &[ListFile]) -> Self {
        let take = |kind| entries_of(lists, kind).into_iter().copied().collect();
        Self {
            datacenter: take("datacenter"),
            proxy: take("proxy"),
            vpn: take("vpn"),
            tor: take("tor"),
            reputation: take("reputation"),
        }
    }

    /// One address of the mix.
    pub fn draw(&self, rng: &mut impl Rng) -> IpAddr {
        let roll = rng.random_range(0..100u32);
        let listed = match roll {
            0..6 => &self.datacenter,
            6..8 => &self.proxy,
            8 => &self.vpn,
            9 => &self.tor,
            10..12 => &self.reputation,
            12..20 => return IpAddr::V6(public_ipv6(rng)),
            _ => return IpAddr::V4(public_ipv4(rng)),
        };
        if listed.is_empty() {
            return IpAddr::V4(public_ipv4(rng));
        }
        listed[rng.random_range(0..listed.len())].address(rng)
    }

    /// A datacenter address (bots run there).
    pub fn datacenter(&self, rng: &mut impl Rng) -> IpAddr {
        if self.datacenter.is_empty() {
            return IpAddr::V4(public_ipv4(rng));
        }
        self.datacenter[rng.random_range(0..self.datacenter.len())].address(rng)
    }
}

/// Browser and bot user agents.
pub struct UserAgents {
    browsers: Vec<String>,
    bots: Vec<&'static str>,
}

const ANDROID_MODELS: &[&str] = &[
    "SM-S918B",
    "SM-A546B",
    "Pixel 8",
    "Pixel 7a",
    "M2101K6G",
    "CPH2451",
    "moto g54 5G",
    "K",
];

const BOTS: &[&str] = &[
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "Scrapy/2.11.0 (+https://scrapy.org)",
    "axios/1.6.8",
    "okhttp/4.12.0",
    "Wget/1.21.4",
    "Java/17.0.9",
    "PostmanRuntime/7.36.0",
];

impl UserAgents {
    /// The pool for `seed`: about 3 000 distinct browser user agents.
    pub fn new(seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(mix(seed, 0x7561));
        let mut browsers: Vec<String> = Vec::with_capacity(3000);
        let mut seen = std::collections::HashSet::new();
        while browsers.len() < 3000 {
            let chrome = rng.random_range(112..132u32);
            let build = rng.random_range(5600..6800u32);
            let patch = rng.random_range(0..220u32);
            let ua = match rng.random_range(0..100u32) {
                0..30 => format!(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.{build}.{patch} Safari/537.36"
                ),
                30..42 => format!(
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.{build}.{patch} Safari/537.36"
                ),
                42..62 => format!(
                    "Mozilla/5.0 (Linux; Android {}; {}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.{build}.{patch} Mobile Safari/537.36",
                    rng.random_range(10..15u32),
                    ANDROID_MODELS[rng.random_range(0..ANDROID_MODELS.len())]
                ),
                62..80 => {
                    let major = rng.random_range(15..18u32);
                    let minor = rng.random_range(0..7u32);
                    format!(
                        "Mozilla/5.0 (iPhone; CPU iPhone OS {major}_{minor} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{major}.{minor} Mobile/15E148 Safari/604.1"
                    )
                }
                80..88 => {
                    let firefox = rng.random_range(115..133u32);
                    format!(
                        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0"
                    )
                }
                88..94 => format!(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36 Edg/{chrome}.0.{build}.{patch}"
                ),
                94..98 => format!(
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{}.{} Safari/605.1.15",
                    rng.random_range(15..18u32),
                    rng.random_range(0..6u32)
                ),
                _ => format!(
                    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{}.0 Chrome/{chrome}.0.0.0 Mobile Safari/537.36",
                    rng.random_range(20..26u32)
                ),
            };
            if seen.insert(ua.clone()) {
                browsers.push(ua);
            }
        }
        Self {
            browsers,
            bots: BOTS.to_vec(),
        }
    }

    /// A browser user agent; the first of the pool are drawn far more often (a long tail).
    pub fn browser(&self, rng: &mut impl Rng) -> &str {
        let u: f64 = rng.random();
        let index = (u * u * u * self.browsers.len() as f64) as usize;
        &self.browsers[index.min(self.browsers.len() - 1)]
    }

    /// A bot, script or headless user agent.
    pub fn bot(&self, rng: &mut impl Rng) -> &'static str {
        self.bots[rng.random_range(0..self.bots.len())]
    }

    /// How many distinct browser user agents the pool holds.
    pub fn browser_count(&self) -> usize {
        self.browsers.len()
    }
}

/// A device as an SDK would describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSketch {
    /// Stable device id.
    pub device_id: String,
    /// `gatehouse.v1.DevicePlatform` number.
    pub platform: i32,
    /// Its enum name, for request files.
    pub platform_name: &'static str,
    /// OS name.
    pub os_name: &'static str,
    /// OS version.
    pub os_version: String,
    /// Manufacturer.
    pub manufacturer: &'static str,
    /// Model.
    pub model: &'static str,
    /// App version.
    pub app_version: String,
    /// Locale.
    pub locale: &'static str,
    /// IANA time zone.
    pub timezone: &'static str,
    /// Screen width.
    pub screen_width: u32,
    /// Screen height.
    pub screen_height: u32,
}

/// Device `n`: an Android or iOS phone or a web browser.
pub fn device(seed: u64, n: u64) -> DeviceSketch {
    let mut rng = entity_rng(seed, 0xde71, n);
    let (timezone, locale) = TIME_ZONES[rng.random_range(0..TIME_ZONES.len())];
    let (platform, platform_name, os_name, manufacturer, model, width, height) =
        match rng.random_range(0..10u32) {
            0..4 => (
                1,
                "DEVICE_PLATFORM_ANDROID",
                "Android",
                "samsung",
                "SM-S918B",
                1080,
                2340,
            ),
            4..7 => (
                2,
                "DEVICE_PLATFORM_IOS",
                "iOS",
                "Apple",
                "iPhone15,2",
                1179,
                2556,
            ),
            _ => (3, "DEVICE_PLATFORM_WEB", "Windows", "", "", 1920, 1080),
        };
    DeviceSketch {
        device_id: device_id(seed, n),
        platform,
        platform_name,
        os_name,
        os_version: format!(
            "{}.{}",
            rng.random_range(10..18u32),
            rng.random_range(0..6u32)
        ),
        manufacturer,
        model,
        app_version: format!(
            "3.{}.{}",
            rng.random_range(0..12u32),
            rng.random_range(0..9u32)
        ),
        locale,
        timezone,
        screen_width: width,
        screen_height: height,
    }
}

/// Probes that scanners send (the threat-URL detector's business).
const PROBES: &[&str] = &[
    "/wp-login.php",
    "/.env",
    "/.git/config",
    "/index.php?id=1%27%20OR%20%271%27=%271",
    "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
    "/../../../../etc/passwd",
    "/cgi-bin/luci/;stok=/locale",
    "/phpmyadmin/index.php",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/shell.php?cmd=id",
];

/// A page a visitor opens: a landing page with campaign parameters, or (in `probe_percent` of
/// cases) an attack probe.
pub fn page_url(rng: &mut impl Rng, probe_percent: u32) -> String {
    if rng.random_range(0..100u32) < probe_percent {
        return PROBES[rng.random_range(0..PROBES.len())].to_string();
    }
    match rng.random_range(0..4u32) {
        0 => format!("/shop/item/{}", rng.random_range(1..50_000u32)),
        1 => format!(
            "/landing/spring-sale?utm_source=google&utm_medium=cpc&utm_campaign=c{}&gclid={}",
            rng.random_range(1..400u32),
            click_id(rng)
        ),
        2 => format!(
            "/search?q=running+shoes+size+{}&page={}",
            rng.random_range(36..47u32),
            rng.random_range(1..5u32)
        ),
        _ => format!("/blog/{}-ways-to-save", rng.random_range(3..30u32)),
    }
}

/// An ad click id like Google's gclid.
pub fn click_id(rng: &mut impl Rng) -> String {
    let mut bytes = [0u8; 18];
    rng.fill(&mut bytes);
    format!("Cj0KCQ{}", hex::encode(bytes))
}

/// Time zones, with the locale that usually goes with them.
pub const TIME_ZONES: &[(&str, &str)] = &[
    ("America/New_York", "en-US"),
    ("America/Los_Angeles", "en-US"),
    ("Europe/London", "en-GB"),
    ("Europe/Berlin", "de-DE"),
    ("Europe/Paris", "fr-FR"),
    ("Asia/Tokyo", "ja-JP"),
    ("America/Sao_Paulo", "pt-BR"),
    ("Asia/Kolkata", "en-IN"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_avoid_reserved_space() {
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..10_000 {
            let ip = public_ipv4(&mut rng);
            assert!(
                !ip.is_private() && !ip.is_loopback() && !ip.is_multicast(),
                "{ip}"
            );
            assert!(!ip.is_documentation() && !ip.is_link_local(), "{ip}");
        }
    }

    #[test]
    fn user_agents_have_a_long_tail_and_are_classified_as_browsers() {
        let agents = UserAgents::new(1);
        assert_eq!(agents.browser_count(), 3000);
        let mut rng = SmallRng::seed_from_u64(2);
        let drawn: std::collections::HashSet<&str> =
            (0..20_000).map(|_| agents.browser(&mut rng)).collect();
        assert!(drawn.len() > 1000, "only {} distinct", drawn.len());
        let classifier = gatehouse_server::intel::user_agent::UaClassifier::new();
        let bots = drawn
            .iter()
            .filter(|ua| classifier.classify(ua).is_bot)
            .count();
        assert_eq!(bots, 0, "browser user agents taken for bots");
        for bot in BOTS {
            assert!(classifier.classify(bot).is_bot, "{bot}");
        }
    }

    #[test]
    fn entity_values_are_stable() {
        assert_eq!(device_id(1, 5), device_id(1, 5));
        assert_ne!(device_id(1, 5), device_id(1, 6));
        let a: u32 = entity_rng(9, 1, 3).random();
        let b: u32 = entity_rng(9, 1, 3).random();
        assert_eq!(a, b);
    }
}
