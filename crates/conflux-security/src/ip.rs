//! Caller IP restrictions (`allowedCallerIpAddresses`).
//!
//! A filter is either absent (everyone may call) or a list of ranges; an
//! empty list admits no HTTP caller at all, as in Logic Apps where an empty
//! trigger list means only other workflows may start runs.

use std::net::IpAddr;

use crate::SecurityError;

/// One inclusive address range; IPv4 and IPv6 ranges never match each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    v6: bool,
    start: u128,
    end: u128,
}

impl IpRange {
    /// Parses `x.x.x.x`, `x.x.x.x/n`, `x.x.x.x-y.y.y.y`, or the IPv6 equivalents.
    pub fn parse(text: &str) -> Result<IpRange, SecurityError> {
        let fail = |reason: &str| SecurityError::InvalidIpRange {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        if let Some((first, last)) = trimmed.split_once('-') {
            let first =
                parse_ip(first).ok_or_else(|| fail("the first address is not an IP address"))?;
            let last =
                parse_ip(last).ok_or_else(|| fail("the last address is not an IP address"))?;
            let (v6, start) = to_number(first);
            let (last_v6, end) = to_number(last);
            if v6 != last_v6 {
                return Err(fail("both ends must be IPv4 or both IPv6"));
            }
            if start > end {
                return Err(fail("the first address is greater than the last"));
            }
            return Ok(IpRange { v6, start, end });
        }
        let (address, prefix) = match trimmed.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (trimmed, None),
        };
        let ip = parse_ip(address).ok_or_else(|| fail("not an IP address"))?;
        let (v6, number) = to_number(ip);
        let bits: u32 = if v6 { 128 } else { 32 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| fail(&format!("the prefix length must be 0..={bits}")))?,
            None => bits,
        };
        let host_bits = bits - prefix;
        let host_mask: u128 = if host_bits == 0 {
            0
        } else if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let start = number & !host_mask;
        Ok(IpRange {
            v6,
            start,
            end: start | host_mask,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v6, number) = to_number(ip);
        v6 == self.v6 && self.start <= number && number <= self.end
    }
}

/// The set of callers allowed through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpFilter {
    /// `None`: no restriction configured.
    ranges: Option<Vec<IpRange>>,
}

impl IpFilter {
    /// No restriction.
    pub fn allow_all() -> IpFilter {
        IpFilter { ranges: None }
    }

    /// Only callers in one of `ranges`; an empty list allows nobody.
    pub fn only(ranges: Vec<IpRange>) -> IpFilter {
        IpFilter {
            ranges: Some(ranges),
        }
    }

    /// Parses every range, reporting all bad ones at once.
    pub fn parse<'a>(
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<IpFilter, Vec<SecurityError>> {
        let mut ranges = Vec::new();
        let mut errors = Vec::new();
        for text in texts {
            match IpRange::parse(text) {
                Ok(range) => ranges.push(range),
                Err(err) => errors.push(err),
            }
        }
        if errors.is_empty() {
            Ok(IpFilter::only(ranges))
        } else {
            Err(errors)
        }
    }

    pub fn is_restricted(&self) -> bool {
        self.ranges.is_some()
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        match &self.ranges {
            None => true,
            Some(ranges) => ranges.iter().any(|range| range.contains(ip)),
        }
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim().parse().ok()
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack socket
/// reports) are treated as the IPv4 address they carry.
fn to_number(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (false, u128::from(u32::from(v4))),
            None => (true, u128::from(v6)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn filter(ranges: &[&str]) -> IpFilter {
        IpFilter::parse(ranges.iter().copied()).unwrap()
    }

    #[test]
    fn cidr_ranges_include_their_edges_only() {
        let f = filter(&["192.168.12.0/23"]);
        for (addr, allowed) in [
            ("192.168.12.0", true),
            ("192.168.13.255", true),
            ("192.168.11.255", false),
            ("192.168.14.0", false),
            ("::ffff:192.168.12.7", true),
        ] {
            assert_eq!(f.allows(ip(addr)), allowed, "{addr}");
        }
        assert!(filter(&["0.0.0.0/0"]).allows(ip("8.8.8.8")));
        assert!(!filter(&["0.0.0.0/0"]).allows(ip("2001:db8::1")));
        assert!(filter(&["10.0.0.1/32"]).allows(ip("10.0.0.1")));
        assert!(!filter(&["10.0.0.1/32"]).allows(ip("10.0.0.2")));
        assert!(filter(&["10.0.0.1"]).allows(ip("10.0.0.1")));
    }

    #[test]
    fn dash_ranges_and_the_block_everyone_range() {
        let f = filter(&["10.0.0.5-10.0.1.4"]);
        assert!(f.allows(ip("10.0.0.5")));
        assert!(f.allows(ip("10.0.0.255")));
        assert!(f.allows(ip("10.0.1.4")));
        assert!(!f.allows(ip("10.0.1.5")));
        assert!(!f.allows(ip("10.0.0.4")));
        let none = filter(&["0.0.0.0-0.0.0.0"]);
        assert!(!none.allows(ip("127.0.0.1")));
    }

    #[test]
    fn ipv6_prefixes() {
        let f = filter(&["2001:db8::/32", "::1/128"]);
        assert!(f.allows(ip("2001:db8:ffff::1")));
        assert!(!f.allows(ip("2001:db9::1")));
        assert!(f.allows(ip("::1")));
        assert!(!f.allows(ip("127.0.0.1")));
        assert!(filter(&["::/0"]).allows(ip("fe80::1")));
    }

    #[test]
    fn empty_list_allows_nobody_absent_list_everybody() {
        assert!(!IpFilter::only(vec![]).allows(ip("127.0.0.1")));
        assert!(IpFilter::allow_all().allows(ip("127.0.0.1")));
        assert!(!IpFilter::allow_all().is_restricted());
    }

    #[test]
    fn bad_ranges_are_all_reported() {
        let errors = IpFilter::parse([
            "10.0.0.0/33",
            "nope",
            "10.0.0.9-10.0.0.1",
            "1.2.3.4-::1",
            "1.2.3.0/24",
        ])
        .unwrap_err();
        assert_eq!(errors.len(), 4);
        assert!(errors[0].to_string().contains("0..=32"));
        assert!(errors[2].to_string().contains("greater"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,60}") {
            let _ = IpRange::parse(&text);
        }

        #[test]
        fn a_cidr_range_contains_its_own_address(a: u8, b: u8, c: u8, d: u8, prefix in 0u32..=32) {
            let text = format!("{a}.{b}.{c}.{d}/{prefix}");
            let range = IpRange::parse(&text).unwrap();
            prop_assert!(range.contains(IpAddr::from([a, b, c, d])));
        }
    }
}
