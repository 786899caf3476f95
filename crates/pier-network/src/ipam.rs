//! IPAM for one bridge network: a subnet, its gateway and an optional `--ip-range` that dynamic
//! allocations are drawn from. Allocation is deterministic: the lowest free address of the range
//! (never the network, broadcast or gateway address). Requested addresses (`--ip`) may lie anywhere
//! in the subnet. The state is a plain list of [`IpamRecord`]s: pierd persists those in its store and
//! rebuilds the allocator with [`Ipam::from_records`] after a restart, so no address is handed out
//! twice. [`check_overlap`] is the helper `POST /networks/create` uses to reject overlapping pools.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};
use crate::subnet::Ipv4Net;

/// One allocated address and who holds it (pierd uses the endpoint or container id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamRecord {
    pub ip: Ipv4Addr,
    pub owner: String,
}

#[derive(Clone, Debug)]
pub struct Ipam {
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    range: Ipv4Net,
    allocated: BTreeMap<Ipv4Addr, String>,
}

impl Ipam {
    /// A fresh allocator. `gateway` defaults to the subnet's first host address (docker's default);
    /// `ip_range` must lie inside `subnet`.
    pub fn new(
        subnet: Ipv4Net,
        gateway: Option<Ipv4Addr>,
        ip_range: Option<Ipv4Net>,
    ) -> Result<Ipam> {
        let subnet = subnet.trunc();
        if subnet.prefix > 30 {
            return Err(NetError::InvalidSubnet(format!(
                "{subnet}: too small for a bridge network"
            )));
        }
        let gateway = gateway.unwrap_or_else(|| subnet.first_host());
        if !subnet.contains(gateway) {
            return Err(NetError::AddressOutOfSubnet {
                ip: gateway,
                subnet: subnet.to_string(),
            });
        }
        let range = match ip_range {
            Some(r) => {
                let r = r.trunc();
                if !subnet.contains(r.network()) || r.prefix < subnet.prefix {
                    return Err(NetError::InvalidSubnet(format!(
                        "ip-range {r} is not inside subnet {subnet}"
                    )));
                }
                r
            }
            None => subnet,
        };
        Ok(Ipam {
            subnet,
            gateway,
            range,
            allocated: BTreeMap::new(),
        })
    }

    /// Rebuilds an allocator from persisted records. Fails on a record outside the subnet or a
    /// duplicate, which would mean the store is corrupt.
    pub fn from_records(
        subnet: Ipv4Net,
        gateway: Option<Ipv4Addr>,
        ip_range: Option<Ipv4Net>,
        records: &[IpamRecord],
    ) -> Result<Ipam> {
        let mut ipam = Ipam::new(subnet, gateway, ip_range)?;
        for r in records {
            ipam.allocate_specific(r.ip, &r.owner)?;
        }
        Ok(ipam)
    }

    /// The allocations, sorted by address, for pierd to persist.
    pub fn to_records(&self) -> Vec<IpamRecord> {
        self.allocated
            .iter()
            .map(|(ip, owner)| IpamRecord {
                ip: *ip,
                owner: owner.clone(),
            })
            .collect()
    }

    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }
    pub fn ip_range(&self) -> Option<Ipv4Net> {
        (self.range != self.subnet).then_some(self.range)
    }
    pub fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.allocated.contains_key(&ip)
    }
    pub fn owner(&self, ip: Ipv4Addr) -> Option<&str> {
        self.allocated.get(&ip).map(String::as_str)
    }

    fn reserved(&self, ip: Ipv4Addr) -> bool {
        ip == self.subnet.network() || ip == self.subnet.broadcast() || ip == self.gateway
    }

    /// Allocates the lowest free address of the ip-range (or subnet) for `owner`.
    pub fn allocate(&mut self, owner: &str) -> Result<Ipv4Addr> {
        let lo = u32::from(self.range.network());
        let hi = u32::from(self.range.broadcast());
        for n in lo..=hi {
            let ip = Ipv4Addr::from(n);
            if !self.reserved(ip) && !self.allocated.contains_key(&ip) {
                self.allocated.insert(ip, owner.to_string());
                return Ok(ip);
            }
        }
        Err(NetError::PoolExhausted)
    }

    /// Allocates a requested address (`--ip`): it must be in the subnet, not reserved and free.
    pub fn allocate_specific(&mut self, ip: Ipv4Addr, owner: &str) -> Result<()> {
        if !self.subnet.contains(ip) {
            return Err(NetError::AddressOutOfSubnet {
                ip,
                subnet: self.subnet.to_string(),
            });
        }
        if self.reserved(ip) {
            return Err(NetError::ReservedAddress(ip));
        }
        if self.allocated.contains_key(&ip) {
            return Err(NetError::AddressInUse(ip));
        }
        self.allocated.insert(ip, owner.to_string());
        Ok(())
    }

    /// Releases an address; returns whether it was allocated.
    pub fn release(&mut self, ip: Ipv4Addr) -> bool {
        self.allocated.remove(&ip).is_some()
    }

    /// Releases every address held by `owner`; returns them.
    pub fn release_owner(&mut self, owner: &str) -> Vec<Ipv4Addr> {
        let ips: Vec<Ipv4Addr> = self
            .allocated
            .iter()
            .filter(|(_, o)| o.as_str() == owner)
            .map(|(ip, _)| *ip)
            .collect();
        for ip in &ips {
            self.allocated.remove(ip);
        }
        ips
    }
}

/// Fails with docker's "Pool overlaps with other one on this address space" when `candidate`
/// shares an address with any of `existing`.
pub fn check_overlap<'a>(
    candidate: &Ipv4Net,
    existing: impl IntoIterator<Item = &'a Ipv4Net>,
) -> Result<()> {
    if existing.into_iter().any(|e| e.overlaps(candidate)) {
        return Err(NetError::PoolOverlap);
    }
    Ok(())
}

/// The first `/size` subnet of `pool` that overlaps none of `used` (docker's default address
/// pools: e.g. 172.17.0.0/16 in /16s, then 192.168.0.0/16 in /20s). `None` when the pool is full.
pub fn next_free_subnet(pool: &Ipv4Net, size: u8, used: &[Ipv4Net]) -> Option<Ipv4Net> {
    let pool = pool.trunc();
    if size < pool.prefix || size > 30 {
        return None;
    }
    let step: u64 = 1u64 << (32 - size);
    let start = u64::from(u32::from(pool.network()));
    let end = u64::from(u32::from(pool.broadcast()));
    let mut at = start;
    while at + step - 1 <= end {
        let candidate = Ipv4Net {
            addr: Ipv4Addr::from(at as u32),
            prefix: size,
        };
        if !used.iter().any(|u| u.overlaps(&candidate)) {
            return Some(candidate);
        }
        at += step;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn allocates_lowest_free_skipping_gateway() {
        let mut ipam = Ipam::new("10.213.1.0/24".parse().unwrap(), None, None).unwrap();
        assert_eq!(ipam.gateway(), ip("10.213.1.1"));
        assert_eq!(ipam.allocate("a").unwrap(), ip("10.213.1.2"));
        assert_eq!(ipam.allocate("b").unwrap(), ip("10.213.1.3"));
        assert!(ipam.release(ip("10.213.1.2")));
        assert!(!ipam.release(ip("10.213.1.2")));
        assert_eq!(ipam.allocate("c").unwrap(), ip("10.213.1.2"));
        assert_eq!(ipam.owner(ip("10.213.1.2")), Some("c"));
    }

    #[test]
    fn custom_gateway_and_range() {
        let mut ipam = Ipam::new(
            "10.213.2.0/24".parse().unwrap(),
            Some(ip("10.213.2.254")),
            Some("10.213.2.128/30".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(ipam.ip_range(), Some("10.213.2.128/30".parse().unwrap()));
        let got: Vec<_> = (0..4)
            .map(|i| ipam.allocate(&format!("c{i}")).unwrap())
            .collect();
        assert_eq!(
            got,
            vec![
                ip("10.213.2.128"),
                ip("10.213.2.129"),
                ip("10.213.2.130"),
                ip("10.213.2.131")
            ]
        );
        assert!(matches!(ipam.allocate("x"), Err(NetError::PoolExhausted)));
        // --ip outside the range but inside the subnet is allowed, as in docker.
        ipam.allocate_specific(ip("10.213.2.10"), "y").unwrap();
        assert!(Ipam::new("10.213.2.0/24".parse().unwrap(), Some(ip("10.9.9.9")), None).is_err());
        assert!(Ipam::new(
            "10.213.2.0/24".parse().unwrap(),
            None,
            Some("10.213.3.0/28".parse().unwrap())
        )
        .is_err());
    }

    #[test]
    fn requested_ip_duplicates_and_reserved() {
        let mut ipam = Ipam::new("10.213.3.0/29".parse().unwrap(), None, None).unwrap();
        ipam.allocate_specific(ip("10.213.3.5"), "a").unwrap();
        let e = ipam.allocate_specific(ip("10.213.3.5"), "b").unwrap_err();
        assert_eq!(e.to_string(), "Address already in use");
        assert!(matches!(
            ipam.allocate_specific(ip("10.213.3.1"), "b"),
            Err(NetError::ReservedAddress(_))
        ));
        assert!(matches!(
            ipam.allocate_specific(ip("10.213.3.7"), "b"),
            Err(NetError::ReservedAddress(_))
        ));
        assert!(matches!(
            ipam.allocate_specific(ip("10.213.4.2"), "b"),
            Err(NetError::AddressOutOfSubnet { .. })
        ));
        // /29: hosts .1-.6, gateway .1, .5 taken → .2 .3 .4 .6 then exhausted
        let got: Vec<_> = (0..4).map(|_| ipam.allocate("d").unwrap()).collect();
        assert_eq!(
            got,
            vec![
                ip("10.213.3.2"),
                ip("10.213.3.3"),
                ip("10.213.3.4"),
                ip("10.213.3.6")
            ]
        );
        assert!(matches!(ipam.allocate("e"), Err(NetError::PoolExhausted)));
        assert_eq!(ipam.release_owner("d").len(), 4);
    }

    #[test]
    fn records_round_trip_without_duplicates() {
        let subnet: Ipv4Net = "10.213.5.0/24".parse().unwrap();
        let mut a = Ipam::new(subnet, None, None).unwrap();
        a.allocate("c1").unwrap();
        a.allocate("c2").unwrap();
        a.allocate_specific(ip("10.213.5.50"), "c3").unwrap();
        let json = serde_json::to_string(&a.to_records()).unwrap();
        let recs: Vec<IpamRecord> = serde_json::from_str(&json).unwrap();
        let mut b = Ipam::from_records(subnet, None, None, &recs).unwrap();
        assert_eq!(b.to_records(), a.to_records());
        // the restarted allocator never hands out an address already held
        assert_eq!(b.allocate("c4").unwrap(), ip("10.213.5.4"));
        let dup = vec![
            IpamRecord {
                ip: ip("10.213.5.2"),
                owner: "x".into()
            };
            2
        ];
        assert!(Ipam::from_records(subnet, None, None, &dup).is_err());
    }

    #[test]
    fn next_free_subnet_skips_used_and_host_networks() {
        let pool: Ipv4Net = "172.17.0.0/12".parse().unwrap();
        let used: Vec<Ipv4Net> = vec![
            "172.16.0.0/16".parse().unwrap(),
            "172.17.0.0/16".parse().unwrap(),
            "172.18.5.0/24".parse().unwrap(),
        ];
        assert_eq!(
            next_free_subnet(&pool, 16, &used),
            Some("172.19.0.0/16".parse().unwrap())
        );
        assert_eq!(
            next_free_subnet(&pool, 16, &[]),
            Some("172.16.0.0/16".parse().unwrap())
        );
        let small: Ipv4Net = "10.213.0.0/23".parse().unwrap();
        let used: Vec<Ipv4Net> = vec!["10.213.0.0/24".parse().unwrap()];
        assert_eq!(
            next_free_subnet(&small, 24, &used),
            Some("10.213.1.0/24".parse().unwrap())
        );
        let used: Vec<Ipv4Net> = vec!["10.213.0.0/23".parse().unwrap()];
        assert_eq!(next_free_subnet(&small, 24, &used), None);
        assert_eq!(next_free_subnet(&small, 22, &[]), None);
    }

    #[test]
    fn overlap_message_is_dockers() {
        let existing: Vec<Ipv4Net> = vec![
            "10.213.0.0/24".parse().unwrap(),
            "10.213.8.0/22".parse().unwrap(),
        ];
        let e = check_overlap(&"10.213.9.0/24".parse().unwrap(), &existing).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Pool overlaps with other one on this address space"
        );
        check_overlap(&"10.213.1.0/24".parse().unwrap(), &existing).unwrap();
    }
}
