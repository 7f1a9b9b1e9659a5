//! Enrichment: the one step that turns what a request carries (an IP, a user agent, a URL) into
//! the facts every face's rules read. The visitor check, the identity face and the click face
//! all enrich here, so a fact (Tor, datacenter, a bot, a verified crawler) is established the
//! same way for each of them; which parts a face asks for is the only difference.

use std::{net::IpAddr, sync::Arc};

use crate::intel::{
    Intel, IpFacts, ip_lists::canonical, threat_url::UrlFacts, user_agent::UaFacts,
};

use super::detect_activity::CrawlerCheck;

/// What a request carries that can be enriched, and how far to go.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observed<'a> {
    /// The client's IP.
    pub ip: Option<IpAddr>,
    /// The client's user agent; empty when none was sent.
    pub user_agent: &'a str,
    /// The URL the client opened, when the face has one.
    pub url: Option<&'a str>,
    /// Ask reverse DNS for the IP's hostname (cached, time-limited) and so check crawler
    /// claims. Faces that answer a visitor before the page loads do; faces that record what
    /// already happened (signals, click events) do not wait for DNS.
    pub reverse_dns: bool,
}

/// Everything known about a request, for the rules.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// What is known of the IP (`None` without one).
    pub ip: Option<IpFacts>,
    /// What the user agent says (`None` when none was sent).
    pub ua: Option<UaFacts>,
    /// What the URL says (`None` when the face has none).
    pub url: Option<UrlFacts>,
    /// The outcome of checking a crawler claim of the user agent.
    pub crawler: CrawlerCheck,
}

/// The enrichment step, over the intelligence data.
pub struct Enricher {
    intel: Arc<Intel>,
}

impl Enricher {
    /// Enrichment over `intel`.
    pub fn new(intel: Arc<Intel>) -> Self {
        Self { intel }
    }

    /// The facts of `observed`.
    pub async fn enrich(&self, observed: Observed<'_>) -> Context {
        let ua = (!observed.user_agent.is_empty())
            .then(|| self.intel.user_agents.classify(observed.user_agent));
        let url = observed.url.map(|url| self.intel.threats.inspect(url));
        let ip = match observed.ip {
            Some(ip) => Some(self.intel.ip_facts(ip, observed.reverse_dns).await),
            None => None,
        };
        let crawler = match (&ua, &ip) {
            (Some(ua), Some(ip)) => self.check_crawler(ua, ip).await,
            (Some(ua), None) if ua.claimed_crawler.is_some() => CrawlerCheck::Unverified,
            _ => CrawlerCheck::NotClaimed,
        };
        Context {
            ip,
            ua,
            url,
            crawler,
        }
    }

    /// The facts of a visitor the Blocker answers: all of them, with reverse DNS. An empty
    /// user agent is classified too (sending none is itself a sign of a script).
    pub async fn visitor(&self, ip: IpAddr, user_agent: &str, url: &str) -> VisitorFacts {
        let ip = canonical(ip);
        let ua = self.intel.user_agents.classify(user_agent);
        let url = self.intel.threats.inspect(url);
        let ip = self.intel.ip_facts(ip, true).await;
        let crawler = self.check_crawler(&ua, &ip).await;
        VisitorFacts {
            ip,
            ua,
            url,
            crawler,
        }
    }

    /// A user agent that claims a known crawler is verified only when the IP's hostname belongs
    /// to that crawler and resolves back to the IP (forward-confirmed reverse DNS). Without a
    /// hostname (reverse DNS not asked, or no answer) the claim stays unverified.
    async fn check_crawler(&self, ua: &UaFacts, ip: &IpFacts) -> CrawlerCheck {
        let Some(claimed) = ua.claimed_crawler else {
            return CrawlerCheck::NotClaimed;
        };
        let Some(hostname) = ip.hostname.clone() else {
            return CrawlerCheck::Unverified;
        };
        let owned = claimed.hostname_suffixes.iter().any(|suffix| {
            let domain = suffix.trim_start_matches('.');
            hostname.as_ref() == domain
                || hostname
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.'))
        });
        if owned && self.intel.rdns.confirms(ip.ip, hostname).await {
            CrawlerCheck::Verified
        } else {
            CrawlerCheck::Unverified
        }
    }
}

/// The facts of a visitor the Blocker answers: a [`Context`] with every part present.
#[derive(Debug, Clone)]
pub struct VisitorFacts {
    /// What is known of the IP.
    pub ip: IpFacts,
    /// What the user agent says.
    pub ua: UaFacts,
    /// What the URL says.
    pub url: UrlFacts,
    /// The outcome of checking a crawler claim.
    pub crawler: CrawlerCheck,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::ip_lists::{IpListTables, ListKind, parse_range};

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, \
                          like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const GOOGLEBOT: &str =
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

    fn enricher() -> Enricher {
        let mut tables = IpListTables::empty();
        tables.insert(
            ListKind::Tor,
            parse_range("198.51.100.10").unwrap(),
            "exits",
        );
        tables.insert(
            ListKind::Datacenter,
            parse_range("203.0.113.0/24").unwrap(),
            "aws",
        );
        Enricher::new(Arc::new(Intel::bare(tables).unwrap()))
    }

    #[tokio::test]
    async fn every_face_sees_the_same_ip_facts() {
        let enricher = enricher();
        let tor: IpAddr = "198.51.100.10".parse().unwrap();
        // A face without a URL and without reverse DNS (signals, click events) ...
        let recorded = enricher
            .enrich(Observed {
                ip: Some(tor),
                user_agent: CHROME,
                ..Observed::default()
            })
            .await;
        // ... and the visitor check agree on what the IP is.
        let visitor = enricher.visitor(tor, CHROME, "https://shop.example/").await;
        let recorded_ip = recorded.ip.unwrap();
        assert!(recorded_ip.anonymity().unwrap().is_tor());
        assert_eq!(recorded_ip.anonymity(), visitor.ip.anonymity());
        assert_eq!(recorded_ip.datacenter(), visitor.ip.datacenter());
        assert!(!recorded.ua.unwrap().is_bot);
        assert!(recorded.url.is_none());
        assert!(visitor.url.threat.is_none());
    }

    #[tokio::test]
    async fn mapped_addresses_are_looked_up_as_ipv4_and_absent_parts_stay_absent() {
        let enricher = enricher();
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        let context = enricher
            .enrich(Observed {
                ip: Some(mapped),
                ..Observed::default()
            })
            .await;
        let ip = context.ip.unwrap();
        assert_eq!(ip.ip, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(
            ip.datacenter().unwrap().source,
            crate::intel::facts::DatacenterSource::List("aws".into())
        );
        assert!(context.ua.is_none(), "no user agent sent");
        let nothing = enricher.enrich(Observed::default()).await;
        assert!(nothing.ip.is_none() && nothing.ua.is_none() && nothing.url.is_none());
        assert_eq!(nothing.crawler, CrawlerCheck::NotClaimed);
    }

    #[tokio::test]
    async fn a_crawler_claim_without_reverse_dns_is_unverified() {
        let enricher = enricher();
        let context = enricher
            .enrich(Observed {
                ip: Some("203.0.113.9".parse().unwrap()),
                user_agent: GOOGLEBOT,
                ..Observed::default()
            })
            .await;
        assert_eq!(context.crawler, CrawlerCheck::Unverified);
        assert!(context.ua.unwrap().is_bot);
        let visitor = enricher
            .visitor("203.0.113.9".parse().unwrap(), GOOGLEBOT, "/")
            .await;
        assert_eq!(
            visitor.crawler,
            CrawlerCheck::Unverified,
            "rDNS is off here"
        );
    }
}
