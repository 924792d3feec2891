//! The resolver configuration file (resolv.conf(5)).
//!
//! Understood: `nameserver` (up to 3, as glibc's `MAXNS`), `search` and `domain` (the last of
//! them wins, as in glibc), and `options` `timeout:N` (capped at 30 s), `attempts:N` (capped
//! at 5), `ndots:N` (capped at 15) and `rotate`. Other options and keywords (`sortlist`,
//! `edns0`, …) are ignored. `#` and `;` start comments.
//!
//! Extension: a nameserver may carry a port, as systemd-resolved writes it —
//! `nameserver 127.0.0.1:5353` or `nameserver [::1]:5353` (plain addresses use port 53).
//!
//! Unlike glibc, which skips a line it cannot parse, a `nameserver` that is not an address or
//! an option with a value that is not a number is an error of kind `InvalidData` naming the
//! file and the line: a silently skipped nameserver sends every lookup elsewhere, which is
//! harder to find than an error.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The port of a nameserver given without one.
const DNS_PORT: u16 = 53;
/// At most this many nameservers are used.
const MAX_NAMESERVERS: usize = 3;

/// A parsed resolver configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvConf {
    /// The nameservers, in file order (127.0.0.1:53 when the file names none).
    pub(crate) nameservers: Vec<SocketAddr>,
    /// The search list: suffixes tried for names with fewer than `ndots` dots.
    pub(crate) search: Vec<String>,
    /// How long to wait for one nameserver's answer.
    pub(crate) timeout: Duration,
    /// How many rounds over all nameservers.
    pub(crate) attempts: u32,
    /// Names with at least this many dots are tried as they are before the search list.
    pub(crate) ndots: u32,
    /// Start each lookup at the next nameserver instead of the first.
    pub(crate) rotate: bool,
}

impl Default for ResolvConf {
    /// What glibc uses without a file: the local nameserver, 5 s, 2 attempts, ndots 1.
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            search: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            ndots: 1,
            rotate: false,
        }
    }
}

impl ResolvConf {
    /// Parses `text`; an error names the line (1-based) and what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut conf = Self::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let fail = |what: String| (index + 1, what);
            match keyword {
                "nameserver" => {
                    let Some(word) = words.next() else {
                        return Err(fail("nameserver without an address".into()));
                    };
                    let addr = nameserver(word).ok_or_else(|| {
                        fail(format!(
                            "nameserver {word}: not an IP address (with an optional :port)"
                        ))
                    })?;
                    if conf.nameservers.len() < MAX_NAMESERVERS {
                        conf.nameservers.push(addr);
                    }
                }
                "search" | "domain" => {
                    conf.search = words
                        .map(|domain| domain.trim_end_matches('.').to_owned())
                        .filter(|domain| !domain.is_empty())
                        .collect();
                    if keyword == "domain" {
                        conf.search.truncate(1);
                    }
                }
                "options" => {
                    for option in words {
                        conf.option(option).map_err(fail)?;
                    }
                }
                _ => {}
            }
        }
        if conf.nameservers.is_empty() {
            conf.nameservers
                .push(SocketAddr::new([127, 0, 0, 1].into(), DNS_PORT));
        }
        Ok(conf)
    }

    fn option(&mut self, option: &str) -> Result<(), String> {
        let (name, value) = match option.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (option, None),
        };
        let number = |cap: u32| -> Result<u32, String> {
            value
                .and_then(|v| v.parse::<u32>().ok())
                .map(|n| n.min(cap))
                .ok_or_else(|| format!("options {option}: expected {name}:NUMBER"))
        };
        match name {
            "timeout" => self.timeout = Duration::from_secs(u64::from(number(30)?.max(1))),
            "attempts" => self.attempts = number(5)?.max(1),
            "ndots" => self.ndots = number(15)?,
            "rotate" => self.rotate = true,
            _ => {}
        }
        Ok(())
    }
}

/// `1.2.3.4`, `::1`, `1.2.3.4:5353` or `[::1]:5353`.
fn nameserver(word: &str) -> Option<SocketAddr> {
    if let Ok(ip) = word.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, DNS_PORT));
    }
    word.parse::<SocketAddr>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_full_file_is_understood() {
        let conf = ResolvConf::parse(
            "# generated\n\
             nameserver 10.0.0.1\n\
             nameserver ::1 ; local\n\
             nameserver 127.0.0.1:5353\n\
             nameserver [::1]:5354\n\
             search corp.test. lab.test\n\
             options timeout:3 attempts:4 ndots:2 rotate edns0 trust-ad\n\
             sortlist 10.0.0.0/8\n",
        )
        .unwrap();
        assert_eq!(
            conf.nameservers,
            [
                addr("10.0.0.1:53"),
                addr("[::1]:53"),
                addr("127.0.0.1:5353")
            ]
        );
        assert_eq!(conf.search, ["corp.test", "lab.test"]);
        assert_eq!(conf.timeout, Duration::from_secs(3));
        assert_eq!((conf.attempts, conf.ndots, conf.rotate), (4, 2, true));
    }

    #[test]
    fn an_empty_file_means_the_local_nameserver_and_the_defaults() {
        let conf = ResolvConf::parse("\n   \n# nothing\n").unwrap();
        assert_eq!(conf.nameservers, [addr("127.0.0.1:53")]);
        assert!(conf.search.is_empty());
        assert_eq!(conf.timeout, Duration::from_secs(5));
        assert_eq!((conf.attempts, conf.ndots, conf.rotate), (2, 1, false));
    }

    #[test]
    fn the_last_of_search_and_domain_wins_and_values_are_capped() {
        let conf = ResolvConf::parse(
            "search a.test b.test\ndomain c.test\noptions timeout:99 attempts:0 ndots:40\n",
        )
        .unwrap();
        assert_eq!(conf.search, ["c.test"]);
        assert_eq!(conf.timeout, Duration::from_secs(30));
        assert_eq!((conf.attempts, conf.ndots), (1, 15));
    }

    #[test]
    fn malformed_entries_name_their_line() {
        let (line, what) =
            ResolvConf::parse("nameserver 10.0.0.1\nnameserver not-an-ip\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(what.contains("not-an-ip"), "{what}");
        assert_eq!(ResolvConf::parse("nameserver\n").unwrap_err().0, 1);
        assert_eq!(ResolvConf::parse("\noptions timeout:x\n").unwrap_err().0, 2);
        assert_eq!(ResolvConf::parse("options ndots\n").unwrap_err().0, 1);
        assert_eq!(
            ResolvConf::parse("nameserver 1.2.3.4:99999\n")
                .unwrap_err()
                .0,
            1
        );
    }
}
