//! `no_proxy`/`NO_PROXY`, read as curl reads it. git reaches its hosts through
//! curl, so a host git reaches without its proxy is reached without it here
//! too: `example.com` covers `example.com` and `www.example.com` (not
//! `notexample.com`), a leading dot changes nothing, an address is compared
//! with addresses and CIDR networks (`10.0.0.0/8`, `fd00::/8`), and a list
//! that is exactly `*` covers every host. Entries are separated by commas,
//! with blanks around them ignored; as in curl, the list ends where an entry
//! is followed by anything but a comma, and `*.example.com` is not a pattern
//! (no name ends in it). Pure.

use std::net::IpAddr;

/// Whether `list` exempts `host` from the proxy. `host` is a URL's host
/// without its port: a name, an IPv4 address or an IPv6 address in brackets.
pub(crate) fn covers(list: &str, host: &str) -> bool {
    if list == "*" {
        return true;
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let address = bare.parse::<IpAddr>().ok();
    let name = host.strip_suffix('.').unwrap_or(host);
    entries(list).any(|entry| match address {
        Some(address) => in_network(address, entry),
        None => in_domain(name, entry),
    })
}

/// The entries of `list` as curl reads them: blanks (space, tab) around an
/// entry skipped, an entry ending at a blank or a comma, any run of commas
/// between entries; anything else after an entry ends the list.
fn entries(list: &str) -> impl Iterator<Item = &str> {
    let blank = |c: char| c == ' ' || c == '\t';
    let mut rest = Some(list);
    std::iter::from_fn(move || {
        loop {
            let text = rest?.trim_start_matches(blank);
            let end = text.find(|c: char| blank(c) || c == ',').unwrap_or(text.len());
            let (entry, after) = text.split_at(end);
            let after = after.trim_start_matches(blank);
            rest = after.starts_with(',').then(|| after.trim_start_matches(','));
            if !entry.is_empty() {
                return Some(entry);
            }
        }
    })
}

/// `name` is `entry` or a name under it (`www.example.com` under `example.com`).
fn in_domain(name: &str, entry: &str) -> bool {
    let entry = entry.strip_suffix('.').unwrap_or(entry);
    let entry = entry.strip_prefix('.').unwrap_or(entry);
    if entry.is_empty() || entry.len() > name.len() {
        return false;
    }
    let cut = name.len() - entry.len();
    let tail_matches = name.get(cut..).is_some_and(|tail| tail.eq_ignore_ascii_case(entry));
    tail_matches && (cut == 0 || name.as_bytes().get(cut - 1) == Some(&b'.'))
}

/// `address` is `entry`, or in the network `entry` names with a prefix length.
/// As in curl, a length of 0 (or none) compares the whole address.
fn in_network(address: IpAddr, entry: &str) -> bool {
    let (network, bits) = match entry.split_once('/') {
        Some((network, bits)) => match bits.parse::<u32>() {
            Ok(bits) => (network, bits),
            Err(_) => return false,
        },
        None => (entry, 0),
    };
    match (address, network.parse::<IpAddr>()) {
        (IpAddr::V4(a), Ok(IpAddr::V4(n))) => same_prefix(&a.octets(), &n.octets(), bits),
        (IpAddr::V6(a), Ok(IpAddr::V6(n))) => same_prefix(&a.octets(), &n.octets(), bits),
        _ => false,
    }
}

/// Whether the first `bits` bits of `a` and `b` are equal (all of them when
/// `bits` is 0); never when `bits` is longer than the addresses.
fn same_prefix(a: &[u8], b: &[u8], bits: u32) -> bool {
    let length = u32::try_from(a.len() * 8).unwrap_or(u32::MAX);
    let bits = if bits == 0 { length } else { bits };
    if bits > length {
        return false;
    }
    a.iter().zip(b).enumerate().all(|(i, (x, y))| {
        let from = u32::try_from(i * 8).unwrap_or(u32::MAX);
        let keep = bits.saturating_sub(from).min(8);
        let mask = if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
        x & mask == y & mask
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_covers_itself_and_the_names_under_it_as_curl_reads_it() {
        // curl's documented examples (CURLOPT_NOPROXY).
        assert!(covers("example.com", "example.com"));
        assert!(covers("example.com", "www.example.com"));
        assert!(!covers("example.com", "www.notanexample.com"));
        assert!(!covers("example.com", "example.com.othertld"));
        assert!(covers(".example.com", "example.com"));
        assert!(covers(".example.com", "www.example.com"));
        assert!(!covers("www.example.com", "example.com"));
        assert!(covers("EXAMPLE.com.", "Api.Example.COM."));
        assert!(!covers("ample.com", "example.com"));
    }

    #[test]
    fn entries_are_separated_by_commas_and_only_a_list_of_exactly_a_star_covers_everything() {
        assert!(covers("localhost, ghe.corp", "ghe.corp"));
        assert!(covers("localhost ,\tghe.corp ", "api.ghe.corp"));
        assert!(covers(",,ghe.corp,,", "ghe.corp"));
        assert!(covers("*", "anything.example"));
        assert!(!covers(" * ", "anything.example"), "curl: exactly *");
        assert!(!covers("localhost,*", "anything.example"), "curl: * only as the whole list");
        assert!(!covers("", "ghe.corp"));
        // curl's unit1614: a blank that is not followed by a comma ends the list.
        assert!(!covers("localhost .example.com .example.de", "www.example.com"));
        assert!(covers("localhost .example.com", "localhost"));
        assert!(!covers("*.corp", "api.ghe.corp"), "curl has no wildcard patterns");
        assert!(!covers("ghe.corp:8443", "ghe.corp"), "an entry with a port names no host");
    }

    #[test]
    fn addresses_match_addresses_and_cidr_networks_never_names() {
        assert!(covers("10.0.0.0/8", "10.20.30.40"));
        assert!(!covers("10.0.0.0/8", "11.0.0.1"));
        assert!(covers("192.168.0.0/16", "192.168.7.1"));
        assert!(!covers("192.168.0.0/16", "192.169.0.1"));
        assert!(covers("172.16.0.0/12", "172.31.255.255"));
        assert!(!covers("172.16.0.0/12", "172.32.0.0"));
        assert!(covers("127.0.0.1", "127.0.0.1"));
        assert!(!covers("127.0.0.1", "127.0.0.2"));
        assert!(!covers("127.0.0.1/0", "127.0.0.2"), "curl: /0 compares the whole address");
        assert!(!covers("10.0.0.0/33", "10.0.0.0"));
        assert!(!covers("10.0.0.0/x", "10.0.0.0"));
        assert!(covers("fd00::/8", "[fd12:3456::1]"));
        assert!(!covers("fd00::/8", "[fe80::1]"));
        assert!(covers("::1", "[::1]"));
        assert!(!covers("[::1]", "[::1]"), "curl: an entry is an address, not a URL's host");
        assert!(!covers("10.0.0.0/8", "[::ffff:10.0.0.1]"));
        // An address is not a name, nor a name an address.
        assert!(!covers("0.0.1", "10.0.0.1"));
        assert!(!covers("10.0.0.0/8", "10.example"));
    }
}
