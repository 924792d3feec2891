//! The hosts file (hosts(5)): `address name [alias…]` per line, `#` starts a comment.
//!
//! As glibc, musl and Zig do, a line whose address does not parse (e.g. an IPv6 address with a
//! `%zone`) is skipped, not an error: the file is shared by every program on the machine and
//! one odd line must not stop all name lookups.

use std::net::IpAddr;

/// The addresses `hosts` (the file's text) gives `name`, in file order, without repeats.
/// Names are compared without regard to ASCII case; a final dot on `name` is ignored.
pub(crate) fn addresses(hosts: &str, name: &str) -> Vec<IpAddr> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut found = Vec::new();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_ascii_whitespace();
        let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        let matches = fields.any(|field| {
            field
                .strip_suffix('.')
                .unwrap_or(field)
                .eq_ignore_ascii_case(name)
        });
        if matches && !found.contains(&addr) {
            found.push(addr);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &str = "\
# a comment line
127.0.0.1\tlocalhost localhost.localdomain
::1        localhost ip6-localhost   # trailing comment
10.0.0.5 db.internal db
fe80::1%eth0 linklocal
not-an-address broken
10.0.0.6
10.0.0.7 DB.Internal
10.0.0.5 db.internal
2001:db8::5 db
";

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn every_address_of_a_name_comes_in_file_order_once() {
        assert_eq!(addresses(HOSTS, "localhost"), ips(&["127.0.0.1", "::1"]));
        assert_eq!(
            addresses(HOSTS, "db.internal"),
            ips(&["10.0.0.5", "10.0.0.7"])
        );
        assert_eq!(addresses(HOSTS, "db"), ips(&["10.0.0.5", "2001:db8::5"]));
    }

    #[test]
    fn case_and_a_final_dot_do_not_matter() {
        assert_eq!(addresses(HOSTS, "IP6-LOCALHOST."), ips(&["::1"]));
    }

    #[test]
    fn comments_and_malformed_lines_match_nothing() {
        assert!(addresses(HOSTS, "comment").is_empty());
        assert!(addresses(HOSTS, "broken").is_empty());
        assert!(addresses(HOSTS, "linklocal").is_empty());
        assert!(addresses(HOSTS, "10.0.0.6").is_empty());
        assert!(addresses(HOSTS, "absent").is_empty());
        assert!(addresses("", "localhost").is_empty());
    }
}
