//! Conversions between engine types and wire types shared by several services.

use gatehouse_proto::v1 as pb;

use crate::{
    engine::{VisitorVerdict, detect_activity::DetectActivity},
    intel::IpFacts,
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
