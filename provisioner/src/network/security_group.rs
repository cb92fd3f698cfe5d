//! Security groups and their rules: found inside the VPC by Name, or by
//! group name when the Name tag is gone (the default group left alone).
//! Each rule is one attribute, so an extra rule opened out of band is drift
//! that `up` revokes.

use crate::aws::ec2;
use crate::engine::{
    run_bounded, Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State,
};
use crate::error::gone_ok;
use crate::network::vpc;
use crate::retry;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup as AwsSg,
    UserIdGroupPair,
};
use futures::FutureExt;

pub const KIND: &str = "security-group";
const VPC: &str = "vpc";
const GROUP_NAME: &str = "group name";
const ALLOW: &str = "allow";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

/// Where traffic may come from (ingress) or go to (egress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Cidr(String),
    Group(Key),
}

/// One rule of the spec. `ports` None = all protocols and ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub direction: Direction,
    pub ports: Option<(i32, i32)>,
    pub peer: Peer,
}

/// A rule with its peer resolved: the attribute key format, parsed back
/// to revoke rules that exist but are not wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    direction: Direction,
    protocol: String,
    ports: Option<(i32, i32)>,
    peer: String,
}

impl Rule {
    fn key(&self) -> String {
        let dir = match self.direction {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        };
        let proto = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        let ports = match self.ports {
            None => "all".to_string(),
            Some((a, b)) if a == b => a.to_string(),
            Some((a, b)) => format!("{a}-{b}"),
        };
        let dir_word = if self.direction == Direction::Ingress {
            "from"
        } else {
            "to"
        };
        format!("{dir} {proto} {ports} {dir_word} {}", self.peer)
    }

    fn parse(key: &str) -> Option<Rule> {
        let parts: Vec<&str> = key.split(' ').collect();
        let [dir, proto, ports, _, peer] = parts.as_slice() else {
            return None;
        };
        let direction = match *dir {
            "ingress" => Direction::Ingress,
            "egress" => Direction::Egress,
            _ => return None,
        };
        let protocol = if *proto == "all" {
            "-1".to_string()
        } else {
            proto.to_string()
        };
        let ports = match *ports {
            "all" => None,
            p => {
                let (a, b) = p.split_once('-').unwrap_or((p, p));
                Some((a.parse().ok()?, b.parse().ok()?))
            }
        };
        Some(Rule {
            direction,
            protocol,
            ports,
            peer: peer.to_string(),
        })
    }

    fn permission(&self) -> IpPermission {
        let mut p = IpPermission::builder().ip_protocol(&self.protocol);
        if let Some((from, to)) = self.ports {
            p = p.from_port(from).to_port(to);
        }
        // A rule's peer goes back in the field it came from: another group,
        // a managed prefix list (EC2 API reference, IpPermission:
        // PrefixListIds), an IPv6 or an IPv4 range.
        p = if self.peer.starts_with("sg-") {
            p.user_id_group_pairs(UserIdGroupPair::builder().group_id(&self.peer).build())
        } else if self.peer.starts_with("pl-") {
            p.prefix_list_ids(PrefixListId::builder().prefix_list_id(&self.peer).build())
        } else if self.peer.contains(':') {
            p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(&self.peer).build())
        } else {
            p.ip_ranges(IpRange::builder().cidr_ip(&self.peer).build())
        };
        p.build()
    }
}

/// Every (rule) a list of AWS permissions grants.
fn rules_of(direction: Direction, permissions: &[IpPermission]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for p in permissions {
        let protocol = p.ip_protocol().unwrap_or("-1").to_string();
        let ports = match (protocol.as_str(), p.from_port(), p.to_port()) {
            ("-1", _, _) => None,
            (_, Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        let peers = p
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip())
            .chain(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6()))
            .chain(p.user_id_group_pairs().iter().filter_map(|g| g.group_id()))
            .chain(
                p.prefix_list_ids()
                    .iter()
                    .filter_map(|l| l.prefix_list_id()),
            );
        for peer in peers {
            rules.push(Rule {
                direction,
                protocol: protocol.clone(),
                ports,
                peer: peer.to_string(),
            });
        }
    }
    rules
}

pub struct SecurityGroupKind;

#[async_trait]
impl Kind for SecurityGroupKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[vpc::KIND]
    }

    async fn discover(&self, ctx: &Ctx, found: &Inventory) -> Result<Vec<Observed>, Error> {
        let vpcs: Vec<String> = found.of(vpc::KIND).iter().map(|v| v.id.clone()).collect();
        if vpcs.is_empty() {
            return Ok(Vec::new());
        }
        let groups = ec2::security_groups_in(ctx, vpcs).await?;
        Ok(groups
            .iter()
            .filter(|sg| sg.group_name() != Some("default"))
            .map(|sg| observe(&ctx.naming, sg))
            .collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        // Groups referencing each other cannot be deleted until the
        // references are gone: revoke every ingress rule first.
        run_bounded(
            ctx,
            items
                .iter()
                .map(|o| revoke_ingress(ctx, o).boxed())
                .collect(),
        )
        .await?;
        run_bounded(
            ctx,
            items
                .iter()
                .map(|o| {
                    retry::delete(ctx, KIND, o.display_name(), move || {
                        ctx.aws.ec2.delete_security_group().group_id(&o.id).send()
                    })
                    .boxed()
                })
                .collect(),
        )
        .await
    }
}

fn observe(naming: &Naming, sg: &AwsSg) -> Observed {
    let tags = ec2::tags(sg.tags());
    let mut attrs = tags.attrs();
    attrs.insert(VPC.into(), sg.vpc_id().unwrap_or_default().to_string());
    attrs.insert(
        GROUP_NAME.into(),
        sg.group_name().unwrap_or_default().to_string(),
    );
    let rules = rules_of(Direction::Ingress, sg.ip_permissions())
        .into_iter()
        .chain(rules_of(Direction::Egress, sg.ip_permissions_egress()));
    for rule in rules {
        attrs.insert(rule.key(), ALLOW.into());
    }
    Observed {
        kind: KIND,
        id: sg.group_id().unwrap_or_default().to_string(),
        name: tags.name(),
        attrs,
        details: Attrs::new(),
        state: State::Ready,
        owned: tags.owned_by(naming),
    }
}

pub struct SecurityGroup {
    pub naming: Naming,
    pub name: String,
    pub description: String,
    pub vpc: Key,
    pub rules: Vec<RuleSpec>,
}

impl SecurityGroup {
    fn resolved_rules(&self, refs: &Refs) -> Vec<Rule> {
        self.rules
            .iter()
            .map(|r| Rule {
                direction: r.direction,
                protocol: if r.ports.is_some() {
                    "tcp".into()
                } else {
                    "-1".into()
                },
                ports: r.ports,
                peer: match &r.peer {
                    Peer::Cidr(c) => c.clone(),
                    Peer::Group(k) => refs.id(k),
                },
            })
            .collect()
    }
}

#[async_trait]
impl Resource for SecurityGroup {
    fn key(&self) -> Key {
        Key::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<Key> {
        let mut deps = vec![self.vpc.clone()];
        for r in &self.rules {
            if let Peer::Group(k) = &r.peer {
                if !deps.contains(k) {
                    deps.push(k.clone());
                }
            }
        }
        deps
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut attrs = self.naming.desired_tags(&self.name);
        attrs.insert(VPC.into(), refs.id(&self.vpc));
        attrs.insert(GROUP_NAME.into(), self.name.clone());
        for rule in self.resolved_rules(refs) {
            attrs.insert(rule.key(), ALLOW.into());
        }
        attrs
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let out = ctx
            .aws
            .ec2
            .create_security_group()
            .group_name(&self.name)
            .description(&self.description)
            .vpc_id(refs.require(&self.vpc)?)
            .tag_specifications(ec2::tag_spec(
                ResourceType::SecurityGroup,
                &ctx.naming,
                &self.name,
            ))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &self.name, e))?;
        out.group_id().map(str::to_string).ok_or_else(|| {
            Error::unexpected(KIND, &self.name, "CreateSecurityGroup returned no group id")
        })
    }

    async fn read(&self, ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error> {
        Ok(ec2::find_security_group(ctx, id)
            .await?
            .map(|sg| observe(&ctx.naming, &sg)))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        if let Some(c) = changes
            .iter()
            .find(|c| c.attr == VPC || c.attr == GROUP_NAME)
        {
            return Err(ec2::immutable(KIND, &self.name, c));
        }
        let mut grant = (Vec::new(), Vec::new());
        let mut revoke = (Vec::new(), Vec::new());
        for c in changes {
            let Some(rule) = Rule::parse(&c.attr) else {
                continue;
            };
            let target = if c.new.is_some() {
                &mut grant
            } else {
                &mut revoke
            };
            match rule.direction {
                Direction::Ingress => target.0.push(rule.permission()),
                Direction::Egress => target.1.push(rule.permission()),
            }
        }
        let ec2c = &ctx.aws.ec2;
        if !revoke.0.is_empty() {
            ec2c.revoke_security_group_ingress()
                .group_id(&current.id)
                .set_ip_permissions(Some(revoke.0))
                .send()
                .await
                .map_err(|e| Error::aws("revoking ingress rules of", KIND, &self.name, e))?;
        }
        if !revoke.1.is_empty() {
            ec2c.revoke_security_group_egress()
                .group_id(&current.id)
                .set_ip_permissions(Some(revoke.1))
                .send()
                .await
                .map_err(|e| Error::aws("revoking egress rules of", KIND, &self.name, e))?;
        }
        if !grant.0.is_empty() {
            ec2c.authorize_security_group_ingress()
                .group_id(&current.id)
                .set_ip_permissions(Some(grant.0))
                .send()
                .await
                .map_err(|e| Error::aws("authorizing ingress rules of", KIND, &self.name, e))?;
        }
        if !grant.1.is_empty() {
            ec2c.authorize_security_group_egress()
                .group_id(&current.id)
                .set_ip_permissions(Some(grant.1))
                .send()
                .await
                .map_err(|e| Error::aws("authorizing egress rules of", KIND, &self.name, e))?;
        }
        ec2::update_tags(ctx, KIND, &self.name, &current.id, changes).await
    }

    fn adopts(&self, observed: &Observed) -> bool {
        observed.name.is_none() && observed.attrs.get(GROUP_NAME) == Some(&self.name)
    }
}

async fn revoke_ingress(ctx: &Ctx, o: &Observed) -> Result<(), Error> {
    let ingress: Vec<IpPermission> = o
        .attrs
        .keys()
        .filter_map(|k| Rule::parse(k))
        .filter(|r| r.direction == Direction::Ingress)
        .map(|r| r.permission())
        .collect();
    if ingress.is_empty() {
        return Ok(());
    }
    let result = ctx
        .aws
        .ec2
        .revoke_security_group_ingress()
        .group_id(&o.id)
        .set_ip_permissions(Some(ingress))
        .send()
        .await;
    gone_ok(
        result
            .map(|_| ())
            .map_err(|e| Error::aws("revoking the rules of", KIND, o.display_name(), e)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_list_rule_goes_back_as_a_prefix_list_not_a_cidr() {
        let rule = Rule::parse("ingress tcp 443 from pl-0123456789abcdef0").unwrap();
        let p = rule.permission();
        assert_eq!(
            p.prefix_list_ids()[0].prefix_list_id(),
            Some("pl-0123456789abcdef0")
        );
        assert!(p.ip_ranges().is_empty() && p.ipv6_ranges().is_empty());
    }

    #[test]
    fn rule_keys_parse_back() {
        for key in [
            "ingress tcp 80 from 0.0.0.0/0",
            "ingress tcp 32768-65535 from sg-123",
            "egress all all to 0.0.0.0/0",
            "ingress tcp 22 from ::/0",
        ] {
            let rule = Rule::parse(key).expect(key);
            assert_eq!(rule.key(), key);
        }
        assert_eq!(Rule::parse("tag:Name"), None);
        assert_eq!(Rule::parse("ingress tcp x from 0.0.0.0/0"), None);
    }
}
