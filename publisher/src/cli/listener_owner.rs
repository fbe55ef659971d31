//! Who owns the socket listening on a loopback address: `publish` sends the token it found in this
//! user's token file only to a hub of this user.
//!
//! Any local user can listen on another loopback address with the hub's port (`127.0.0.2:3000` or
//! `[::1]:3000` beside a hub on `127.0.0.1:3000`), and `localhost` may resolve to either. The token
//! file is private to its user, so the token must not go to a listener that someone else runs. Linux
//! lists every listening TCP socket with its owner's uid in `/proc/net/tcp` and `/proc/net/tcp6`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// State `0A` in `/proc/net/tcp*`: listening.
const LISTEN: &str = "0A";

/// A socket listening on `ip`:`port` (or on every address, with `port`) that belongs to another user
/// than `uid`: its address and owner. `None` when every such listener is `uid`'s, or none is known
/// (another system, or nothing listens: then nothing receives the token either).
pub fn foreign_listener(ips: &[IpAddr], port: u16, uid: u32) -> Option<(IpAddr, u32)> {
    let tables = ["/proc/net/tcp", "/proc/net/tcp6"].map(std::fs::read_to_string);
    tables
        .iter()
        .flatten()
        .flat_map(|table| table.lines().skip(1).filter_map(parse_line))
        .filter(|listener| listener.port == port && listener.owner != uid)
        .find(|listener| listener.ip.is_unspecified() || ips.iter().any(|ip| same_ip(*ip, listener.ip)))
        .map(|listener| (listener.ip, listener.owner))
}

#[derive(Debug, PartialEq, Eq)]
struct Listener {
    ip: IpAddr,
    port: u16,
    owner: u32,
}

/// One line of `/proc/net/tcp*`, if it is a listening socket:
/// `sl local_address rem_address st tx:rx tr:when retrnsmt uid ...`.
fn parse_line(line: &str) -> Option<Listener> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.get(3) != Some(&LISTEN) {
        return None;
    }
    let (ip, port) = fields.get(1)?.split_once(':')?;
    Some(Listener {
        ip: parse_ip(ip)?,
        port: u16::from_str_radix(port, 16).ok()?,
        owner: fields.get(7)?.parse().ok()?,
    })
}

/// The kernel prints an address as 32-bit words in the machine's byte order.
fn parse_ip(hex: &str) -> Option<IpAddr> {
    let words: Option<Vec<[u8; 4]>> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok().map(u32::to_ne_bytes))
        .collect();
    let bytes: Vec<u8> = words?.concat();
    match bytes.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?))),
        _ => None,
    }
}

/// The same address, an IPv4 address and its IPv4-mapped IPv6 form alike.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    let plain = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    plain(a) == plain(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(ip: [u8; 4]) -> String {
        format!("{:08X}", u32::from_ne_bytes(ip))
    }

    #[test]
    fn reads_listening_sockets_of_both_tables() {
        let v4 = format!(
            "   0: {}:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001 0 1",
            word([127, 0, 0, 2])
        );
        assert_eq!(
            parse_line(&v4),
            Some(Listener { ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), port: 3000, owner: 1001 })
        );
        let loopback6: String = [[0; 4], [0; 4], [0; 4], [0, 0, 0, 1]].iter().map(|w| word(*w)).collect();
        let v6 = format!("   1: {loopback6}:0BB8 {}:0000 0A 0:0 0:0 0 0 0 2", "0".repeat(32));
        assert_eq!(
            parse_line(&v6),
            Some(Listener { ip: IpAddr::V6(Ipv6Addr::LOCALHOST), port: 3000, owner: 0 })
        );
        let established = v4.replace(" 0A ", " 01 ");
        assert_eq!(parse_line(&established), None, "only listening sockets");
    }

    #[test]
    fn a_listener_of_this_process_is_this_users() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let uid = hub_protocol::token_file::effective_uid();
        let here = [IpAddr::V4(Ipv4Addr::LOCALHOST)];
        assert_eq!(foreign_listener(&here, port, uid), None);
        if std::path::Path::new("/proc/net/tcp").exists() {
            let other = uid.wrapping_add(1);
            assert_eq!(foreign_listener(&here, port, other), Some((here[0], uid)), "seen as another user's");
        }
    }

    #[test]
    fn mapped_addresses_are_the_same() {
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!(same_ip(v4, IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped())));
        assert!(!same_ip(v4, IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }
}
