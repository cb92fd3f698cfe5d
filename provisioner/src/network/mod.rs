//! The network and security layer: VPC, subnets, internet gateway, NAT
//! gateways with Elastic IPs, route tables and security groups.
//!
//! Names (with `{p}-{e}-` = `{project}-{env}-`): `vpc`, `igw`,
//! `public-a|b|c`, `private-a|b|c`, `nat-a…` and `nat-a-eip…`, `public-rt`,
//! `private-rt-a|b|c`, `alb-sg`, `ecs-sg`, `redis-sg`. Later layers refer
//! to them through the `*_key` functions.

pub mod elastic_ip;
pub mod internet_gateway;
pub mod nat_gateway;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod vpc;

use crate::aws::ec2;
use crate::engine::{Ctx, Key, Kind, Observed, Resource};
use crate::profile::{NatLayout, Profile};
use crate::tags::Naming;
use crate::Error;
use security_group::{Direction, Peer, RuleSpec};
use std::collections::HashMap;
use std::sync::Arc;

/// Which security group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Alb,
    Ecs,
    Redis,
}

impl Group {
    fn suffix(self) -> &'static str {
        match self {
            Group::Alb => "alb-sg",
            Group::Ecs => "ecs-sg",
            Group::Redis => "redis-sg",
        }
    }
}

pub fn vpc_key(n: &Naming) -> Key {
    Key::new(vpc::KIND, n.name("vpc"))
}

pub fn internet_gateway_key(n: &Naming) -> Key {
    Key::new(internet_gateway::KIND, n.name("igw"))
}

/// Subnet of zone `index` (0-based), public or private.
pub fn subnet_key(n: &Naming, public: bool, index: usize) -> Key {
    let tier = if public { "public" } else { "private" };
    Key::new(subnet::KIND, n.name(&format!("{tier}-{}", letter(index))))
}

pub fn security_group_key(n: &Naming, group: Group) -> Key {
    Key::new(security_group::KIND, n.name(group.suffix()))
}

/// The private route table of zone `index` (0-based).
pub fn private_route_table_key(n: &Naming, index: usize) -> Key {
    Key::new(
        route_table::KIND,
        n.name(&format!("private-rt-{}", letter(index))),
    )
}

fn nat_key(n: &Naming, index: usize) -> Key {
    Key::new(nat_gateway::KIND, n.name(&format!("nat-{}", letter(index))))
}

fn eip_key(n: &Naming, index: usize) -> Key {
    Key::new(
        elastic_ip::KIND,
        n.name(&format!("nat-{}-eip", letter(index))),
    )
}

fn letter(index: usize) -> char {
    (b'a' + (index % 26) as u8) as char
}

/// The zones to spread over: the profile's, or the region's first ones.
pub async fn zones(ctx: &Ctx, profile: &Profile) -> Result<Vec<String>, Error> {
    let wanted = profile.network.public_subnets.len();
    if !profile.network.availability_zones.is_empty() {
        return Ok(profile.network.availability_zones.clone());
    }
    let out = ctx
        .aws
        .ec2
        .describe_availability_zones()
        .filters(ec2::filter("state", ["available".to_string()]))
        .filters(ec2::filter("zone-type", ["availability-zone".to_string()]))
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                "listing",
                "availability zones in region",
                ctx.aws.region().unwrap_or("(no region)"),
                e,
            )
        })?;
    let mut names: Vec<String> = out
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    names.sort();
    if names.len() < wanted {
        return Err(Error::TooFewZones {
            region: ctx.aws.region().unwrap_or("(no region)").to_string(),
            have: names.len(),
            need: wanted,
        });
    }
    names.truncate(wanted);
    Ok(names)
}

pub fn kinds() -> Vec<Arc<dyn Kind>> {
    vec![
        Arc::new(vpc::VpcKind),
        Arc::new(internet_gateway::InternetGatewayKind),
        Arc::new(subnet::SubnetKind),
        Arc::new(elastic_ip::ElasticIpKind),
        Arc::new(nat_gateway::NatGatewayKind),
        Arc::new(route_table::RouteTableKind),
        Arc::new(security_group::SecurityGroupKind),
    ]
}

pub fn resources(n: &Naming, profile: &Profile, zones: &[String]) -> Vec<Arc<dyn Resource>> {
    let net = &profile.network;
    let mut out: Vec<Arc<dyn Resource>> = Vec::new();
    out.push(Arc::new(vpc::Vpc {
        naming: n.clone(),
        name: vpc_key(n).name,
        cidr: net.vpc_cidr.clone(),
    }));
    out.push(Arc::new(internet_gateway::InternetGateway {
        naming: n.clone(),
        name: internet_gateway_key(n).name,
        vpc: vpc_key(n),
    }));
    for (public, cidrs) in [(true, &net.public_subnets), (false, &net.private_subnets)] {
        for (i, (cidr, zone)) in cidrs.iter().zip(zones).enumerate() {
            out.push(Arc::new(subnet::Subnet {
                naming: n.clone(),
                name: subnet_key(n, public, i).name,
                vpc: vpc_key(n),
                cidr: cidr.clone(),
                zone: zone.clone(),
            }));
        }
    }
    let nat_count = match net.nat_gateways {
        NatLayout::Single => 1,
        NatLayout::PerAz => zones.len(),
    };
    for i in 0..nat_count {
        out.push(Arc::new(elastic_ip::ElasticIp {
            naming: n.clone(),
            name: eip_key(n, i).name,
        }));
        out.push(Arc::new(nat_gateway::NatGateway {
            naming: n.clone(),
            name: nat_key(n, i).name,
            subnet: subnet_key(n, true, i),
            address: eip_key(n, i),
            internet_gateway: internet_gateway_key(n),
        }));
    }
    out.push(Arc::new(route_table::RouteTable {
        naming: n.clone(),
        name: n.name("public-rt"),
        vpc: vpc_key(n),
        default_route: internet_gateway_key(n),
        subnets: (0..zones.len()).map(|i| subnet_key(n, true, i)).collect(),
    }));
    for i in 0..zones.len() {
        out.push(Arc::new(route_table::RouteTable {
            naming: n.clone(),
            name: private_route_table_key(n, i).name,
            vpc: vpc_key(n),
            default_route: nat_key(n, i.min(nat_count - 1)),
            subnets: vec![subnet_key(n, false, i)],
        }));
    }
    out.extend(security_groups(n, profile));
    out
}

/// ALB open on 80 and 443; instances open only to the ALB on the game port
/// and the ephemeral host ports; Redis open only to the instances. Redis
/// needs no outbound traffic, so its group has no egress rule.
fn security_groups(n: &Naming, profile: &Profile) -> Vec<Arc<dyn Resource>> {
    let sec = &profile.security;
    let all_out = RuleSpec {
        direction: Direction::Egress,
        ports: None,
        peer: Peer::Cidr("0.0.0.0/0".into()),
    };
    let from_anywhere = |port: u16| RuleSpec {
        direction: Direction::Ingress,
        ports: Some((port.into(), port.into())),
        peer: Peer::Cidr("0.0.0.0/0".into()),
    };
    let from_group = |ports: (u16, u16), group: Group| RuleSpec {
        direction: Direction::Ingress,
        ports: Some((ports.0.into(), ports.1.into())),
        peer: Peer::Group(security_group_key(n, group)),
    };
    let group = |g: Group, description: &str, rules: Vec<RuleSpec>| -> Arc<dyn Resource> {
        Arc::new(security_group::SecurityGroup {
            naming: n.clone(),
            name: security_group_key(n, g).name,
            description: description.to_string(),
            vpc: vpc_key(n),
            rules,
        })
    };
    let [lo, hi] = sec.host_port_range;
    vec![
        group(
            Group::Alb,
            "Spaaace load balancer: HTTP and HTTPS from anywhere",
            vec![from_anywhere(80), from_anywhere(443), all_out.clone()],
        ),
        group(
            Group::Ecs,
            "Spaaace ECS instances: game and host ports from the load balancer only",
            vec![
                from_group((sec.game_port, sec.game_port), Group::Alb),
                from_group((lo, hi), Group::Alb),
                all_out,
            ],
        ),
        group(
            Group::Redis,
            "Spaaace Redis: from the ECS instances only",
            vec![from_group((sec.redis_port, sec.redis_port), Group::Ecs)],
        ),
    ]
}

/// Ids of the network, for `outputs` and for later layers.
pub fn outputs(
    n: &Naming,
    profile: &Profile,
    existing: &HashMap<Key, Observed>,
) -> serde_json::Map<String, serde_json::Value> {
    let id = |k: &Key| existing.get(k).map(|o| o.id.clone());
    let zones = profile.network.public_subnets.len();
    let subnets = |public: bool| -> Vec<String> {
        (0..zones)
            .filter_map(|i| id(&subnet_key(n, public, i)))
            .collect()
    };
    let nats: Vec<String> = (0..zones).filter_map(|i| id(&nat_key(n, i))).collect();
    let mut map = serde_json::Map::new();
    map.insert("vpc_id".into(), id(&vpc_key(n)).into());
    map.insert("public_subnet_ids".into(), subnets(true).into());
    map.insert("private_subnet_ids".into(), subnets(false).into());
    map.insert("nat_gateway_ids".into(), nats.into());
    map.insert(
        "security_group_ids".into(),
        serde_json::json!({
            "alb": id(&security_group_key(n, Group::Alb)),
            "ecs": id(&security_group_key(n, Group::Ecs)),
            "redis": id(&security_group_key(n, Group::Redis)),
        }),
    );
    map
}
