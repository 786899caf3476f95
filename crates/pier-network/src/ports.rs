//! Host port checks for published ports. The kernel DNAT path holds no socket, so availability
//! is a bind test plus pierd's own list of ports it has published (`taken`); both fail with docker's
//! message `Bind for 0.0.0.0:18080 failed: port is already allocated`.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

use crate::error::{NetError, Result};
use crate::nft::Proto;

/// Fails if `host_ip:port/proto` is bound by a process, or is in `taken` (pier's own mappings as
/// `(host_ip, port, proto)`; a `0.0.0.0` entry conflicts with every address and vice versa).
pub fn check_port_available(
    host_ip: Ipv4Addr,
    port: u16,
    proto: Proto,
    taken: &[(Ipv4Addr, u16, Proto)],
) -> Result<()> {
    let err = || NetError::PortAllocated {
        host_ip: host_ip.to_string(),
        port,
    };
    let clash = taken.iter().any(|(ip, p, pr)| {
        *p == port
            && *pr == proto
            && (*ip == host_ip || ip.is_unspecified() || host_ip.is_unspecified())
    });
    if clash {
        return Err(err());
    }
    let addr = SocketAddrV4::new(host_ip, port);
    let free = match proto {
        Proto::Tcp => TcpListener::bind(addr).is_ok(),
        Proto::Udp => UdpSocket::bind(addr).is_ok(),
    };
    if free {
        Ok(())
    } else {
        Err(err())
    }
}

/// The kernel's ephemeral port range (docker picks random host ports from it).
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().filter_map(|x| x.parse::<u16>().ok());
            Some((it.next()?, it.next()?))
        })
        .unwrap_or((32768, 60999))
}

/// Picks a free host port for `-p containerPort` / `-P`: the first port of the ephemeral range,
/// starting at a random offset, that passes [`check_port_available`].
pub fn pick_host_port(
    host_ip: Ipv4Addr,
    proto: Proto,
    taken: &[(Ipv4Addr, u16, Proto)],
) -> Result<u16> {
    let (lo, hi) = ephemeral_range();
    let span = u32::from(hi - lo) + 1;
    let start = rand::random::<u32>() % span;
    for i in 0..span {
        let port = lo + ((start + i) % span) as u16;
        if check_port_available(host_ip, port, proto, taken).is_ok() {
            return Ok(port);
        }
    }
    Err(NetError::NoFreePort(lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_port_is_reported_with_dockers_message() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let e = check_port_available(Ipv4Addr::LOCALHOST, port, Proto::Tcp, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Bind for 127.0.0.1:{port} failed: port is already allocated")
        );
        drop(l);
        check_port_available(Ipv4Addr::LOCALHOST, port, Proto::Tcp, &[]).unwrap();
    }

    #[test]
    fn own_mappings_conflict() {
        let taken = [(Ipv4Addr::UNSPECIFIED, 18080, Proto::Tcp)];
        let e = check_port_available(Ipv4Addr::UNSPECIFIED, 18080, Proto::Tcp, &taken).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bind for 0.0.0.0:18080 failed: port is already allocated"
        );
        assert!(check_port_available(Ipv4Addr::LOCALHOST, 18080, Proto::Tcp, &taken).is_err());
        // other protocol: no conflict with our own mapping
        let _ = check_port_available(Ipv4Addr::LOCALHOST, 18080, Proto::Udp, &taken);
        let p = pick_host_port(Ipv4Addr::LOCALHOST, Proto::Tcp, &taken).unwrap();
        let (lo, hi) = ephemeral_range();
        assert!(p >= lo && p <= hi);
    }
}
