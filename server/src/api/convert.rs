//! Conversions between engine types and wire types shared by several services.

use gatehouse_proto::v1 as pb;

use std::net::IpAddr;

use crate::{
    engine::{VisitorVerdict, detect_activity::DetectActivity},
    error::ApiError,
    intel::{
        IpFacts,
        ip_lists::{IpRange, parse_range},
    },
};

/// The wire enum of a DetectActivity reason.
pub fn detect_activity_to_pb(activity: DetectActivity) -> pb::DetectActivity {
    match activity {
        DetectActivity::AllowByWhitelistIp => pb::DetectActivity::AllowByWhitelistIp,
        DetectActivity::BlockByBlacklistIp => pb::DetectActivity::BlockByBlacklistIp,
        DetectActivity::BlockByIpDatabase => pb::DetectActivity::BlockByIpDatabase,
        DetectActivity::BlockByMaliciousActivity => pb::DetectActivity::BlockByMaliciousActivity,
        DetectActivity::BlockByHostnameDatabase => pb::DetectActivity::BlockByHostnameDatabase,
        DetectActivity::BlockByProxyVpnTor => pb::DetectActivity::BlockByProxyVpnTor,
        DetectActivity::BlockByCountry => pb::DetectActivity::BlockByCountry,
        DetectActivity::BlockByIpNonIsp => pb::DetectActivity::BlockByIpNonIsp,
        DetectActivity::BlockBySpiderCrawler => pb::DetectActivity::BlockBySpiderCrawler,
        DetectActivity::BlockByThreatUrl => pb::DetectActivity::BlockByThreatUrl,
        DetectActivity::BlockByInvalidKeyname => pb::DetectActivity::BlockByInvalidKeyname,
        DetectActivity::BlockByDeviceDesktop => pb::DetectActivity::BlockByDeviceDesktop,
        DetectActivity::BlockByDeviceMobile => pb::DetectActivity::BlockByDeviceMobile,
        DetectActivity::Visitor => pb::DetectActivity::Visitor,
    }
}

/// The IPInfo of a visitor check. Without an ISP database the AS organisation stands in for the
/// ISP, as the blockers do.
pub fn ip_info_to_pb(facts: &IpFacts) -> pb::IpInfo {
    let geo = &facts.geo;
    pb::IpInfo {
        hostname: facts.hostname.as_deref().unwrap_or_default().to_string(),
        asn: geo.asn,
        company: geo.company.clone(),
        isp: if geo.isp.is_empty() {
            geo.company.clone()
        } else {
            geo.isp.clone()
        },
        city: geo.city.clone(),
        district: geo.district.clone(),
        region: geo.region.clone(),
        postcode: geo.postcode.clone(),
        country: geo.country.clone(),
        country_code: geo.country_code.clone(),
        latitude: geo.latitude.unwrap_or_default(),
        longitude: geo.longitude.unwrap_or_default(),
        timezone: geo.timezone.clone(),
    }
}

/// The IPStatus of a visitor check.
pub fn visitor_status_to_pb(verdict: &VisitorVerdict) -> pb::VisitorStatus {
    pb::VisitorStatus {
        is_bot: verdict.is_bot(),
        block_access: verdict.block_access(),
        threat_url: verdict.threat_url(),
        detect_activity: detect_activity_to_pb(verdict.decision.activity).into(),
        detect_activity_label: verdict.decision.activity.label().to_string(),
    }
}

/// Normalises an IP or CIDR written by a user; `field` names it in errors.
pub fn normalize_cidr(raw: &str, field: &str) -> Result<(String, IpRange), ApiError> {
    let text = raw.trim();
    let normalized = if let Ok(ip) = text.parse::<IpAddr>() {
        crate::intel::ip_lists::canonical(ip).to_string()
    } else if let Ok(net) = text.parse::<ipnet::IpNet>() {
        net.trunc().to_string()
    } else {
        return Err(ApiError::invalid(
            field,
            format!(
                "{raw:?} is not an IP or CIDR range: write it as 203.0.113.7 or 203.0.113.0/24"
            ),
        ));
    };
    let range = parse_range(&normalized)
        .ok_or_else(|| ApiError::invalid(field, format!("{raw:?} is not a valid range")))?;
    Ok((normalized, range))
}

/// Checks a destination: an absolute http(s) URL.
pub fn validate_destination(raw: &str, field: &str) -> Result<String, ApiError> {
    let value = raw.trim();
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() <= 2048
        && !value.chars().any(|c| c.is_control() || c.is_whitespace())
        && value
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty());
    if ok {
        Ok(value.to_string())
    } else {
        Err(ApiError::invalid(
            field,
            format!(
                "{raw:?} is not an absolute http(s) URL: write it as https://shop.example/page"
            ),
        ))
    }
}

#[cfg(test)]
mod input_tests {
    use super::*;

    #[test]
    fn user_ranges_are_normalised_or_refused_by_field() {
        assert_eq!(
            normalize_cidr(" 203.0.113.7 ", "cidrs[0]").unwrap().0,
            "203.0.113.7"
        );
        assert_eq!(
            normalize_cidr("203.0.113.9/24", "cidrs[0]").unwrap().0,
            "203.0.113.0/24"
        );
        assert_eq!(
            normalize_cidr("::ffff:1.2.3.4", "cidrs[0]").unwrap().0,
            "1.2.3.4"
        );
        let error = normalize_cidr("300.1.1.1", "cidrs[2]").unwrap_err();
        assert!(error.to_string().starts_with("cidrs[2]: "), "{error}");
    }

    #[test]
    fn destinations_are_absolute_http_urls() {
        assert!(validate_destination("https://shop.example/x?y=1", "d").is_ok());
        for bad in [
            "javascript:alert(1)",
            "/relative",
            "https://",
            "ftp://x",
            "https://a b",
        ] {
            assert!(validate_destination(bad, "d").is_err(), "{bad}");
        }
    }
}
