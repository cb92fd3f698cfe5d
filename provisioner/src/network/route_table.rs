//! Route tables with their routes and subnet associations: found inside the
//! VPC (the main table left alone). Routes other than the local one and
//! associations not in the spec are drift and get removed.

use crate::aws::ec2;
use crate::engine::{
    run_bounded, Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State,
};
use crate::error::gone_ok;
use crate::network::{internet_gateway, nat_gateway, subnet, vpc};
use crate::retry;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, Route, RouteState, RouteTable as AwsRouteTable};
use futures::FutureExt;
use std::collections::BTreeSet;

pub const KIND: &str = "route-table";
const VPC: &str = "vpc";
const ROUTE_PREFIX: &str = "route ";
const ASSOCIATIONS: &str = "associated subnets";
const ASSOCIATION_PREFIX: &str = "association ";

pub struct RouteTableKind;

#[async_trait]
impl Kind for RouteTableKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            vpc::KIND,
            subnet::KIND,
            internet_gateway::KIND,
            nat_gateway::KIND,
        ]
    }

    async fn discover(&self, ctx: &Ctx, found: &Inventory) -> Result<Vec<Observed>, Error> {
        let vpcs: Vec<String> = found.of(vpc::KIND).iter().map(|v| v.id.clone()).collect();
        if vpcs.is_empty() {
            return Ok(Vec::new());
        }
        let tables = ec2::route_tables_where(ctx, &ctx.naming.name("*-rt"), |c| {
            c.filters(ec2::filter("vpc-id", vpcs))
        })
        .await?;
        Ok(tables
            .iter()
            .filter(|rt| !rt.associations().iter().any(|a| a.main() == Some(true)))
            .map(|rt| observe(&ctx.naming, rt))
            .collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        run_bounded(
            ctx,
            items.iter().map(|o| delete_one(ctx, o).boxed()).collect(),
        )
        .await
    }
}

fn observe(naming: &Naming, rt: &AwsRouteTable) -> Observed {
    let tags = ec2::tags(rt.tags());
    let mut attrs = tags.attrs();
    attrs.insert(VPC.into(), rt.vpc_id().unwrap_or_default().to_string());
    for route in rt.routes() {
        if let Some((dest, target)) = route_entry(route) {
            attrs.insert(format!("{ROUTE_PREFIX}{dest}"), target);
        }
    }
    let mut details = Attrs::new();
    let mut subnets = BTreeSet::new();
    for a in rt.associations() {
        if let (Some(subnet), Some(assoc)) = (a.subnet_id(), a.route_table_association_id()) {
            subnets.insert(subnet.to_string());
            details.insert(format!("{ASSOCIATION_PREFIX}{subnet}"), assoc.to_string());
        }
    }
    if !subnets.is_empty() {
        attrs.insert(ASSOCIATIONS.into(), join(subnets));
    }
    Observed {
        kind: KIND,
        id: rt.route_table_id().unwrap_or_default().to_string(),
        name: tags.name(),
        attrs,
        details,
        state: State::Ready,
        owned: tags.owned_by(naming),
    }
}

/// (destination, target) of a route this tool manages; the VPC's local
/// route is AWS's own. A blackhole route shows as such, so it is replaced.
fn route_entry(route: &Route) -> Option<(String, String)> {
    let dest = route.destination_cidr_block()?;
    let target = route
        .nat_gateway_id()
        .or(route.gateway_id())
        .or(route.network_interface_id())
        .or(route.instance_id())
        .or(route.transit_gateway_id())
        .or(route.vpc_peering_connection_id())
        .unwrap_or("unknown");
    if target == "local" {
        return None;
    }
    let target = if route.state() == Some(&RouteState::Blackhole) {
        format!("{target} (blackhole)")
    } else {
        target.to_string()
    };
    Some((dest.to_string(), target))
}

fn join(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(",")
}

fn split(list: Option<&String>) -> BTreeSet<String> {
    list.map(|l| {
        l.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

pub struct RouteTable {
    pub naming: Naming,
    pub name: String,
    pub vpc: Key,
    /// Where 0.0.0.0/0 goes: the internet gateway or a NAT gateway.
    pub default_route: Key,
    pub subnets: Vec<Key>,
}

#[async_trait]
impl Resource for RouteTable {
    fn key(&self) -> Key {
        Key::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<Key> {
        let mut deps = vec![self.vpc.clone(), self.default_route.clone()];
        deps.extend(self.subnets.iter().cloned());
        deps
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut attrs = self.naming.desired_tags(&self.name);
        attrs.insert(VPC.into(), refs.id(&self.vpc));
        attrs.insert(
            format!("{ROUTE_PREFIX}0.0.0.0/0"),
            refs.id(&self.default_route),
        );
        let subnets: BTreeSet<String> = self.subnets.iter().map(|s| refs.id(s)).collect();
        attrs.insert(ASSOCIATIONS.into(), join(subnets));
        attrs
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let out = ctx
            .aws
            .ec2
            .create_route_table()
            .vpc_id(refs.require(&self.vpc)?)
            .tag_specifications(ec2::tag_spec(
                ResourceType::RouteTable,
                &ctx.naming,
                &self.name,
            ))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &self.name, e))?;
        out.route_table()
            .and_then(|rt| rt.route_table_id())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::unexpected(KIND, &self.name, "CreateRouteTable returned no table")
            })
    }

    async fn read(&self, ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error> {
        Ok(ec2::find_route_table(ctx, id)
            .await?
            .map(|rt| observe(&ctx.naming, &rt)))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        for c in changes {
            if c.attr == VPC {
                return Err(ec2::immutable(KIND, &self.name, c));
            }
            if let Some(dest) = c.attr.strip_prefix(ROUTE_PREFIX) {
                self.update_route(ctx, &current.id, dest, c).await?;
            }
            if c.attr == ASSOCIATIONS {
                self.update_associations(ctx, current, c).await?;
            }
        }
        ec2::update_tags(ctx, KIND, &self.name, &current.id, changes).await
    }
}

impl RouteTable {
    async fn update_route(
        &self,
        ctx: &Ctx,
        table: &str,
        dest: &str,
        c: &Change,
    ) -> Result<(), Error> {
        let ec2c = &ctx.aws.ec2;
        match (&c.old, &c.new) {
            (_, Some(target)) if c.old.is_none() => {
                let call = ec2c
                    .create_route()
                    .route_table_id(table)
                    .destination_cidr_block(dest);
                let call = if target.starts_with("nat-") {
                    call.nat_gateway_id(target)
                } else {
                    call.gateway_id(target)
                };
                call.send()
                    .await
                    .map_err(|e| Error::aws("adding a route to", KIND, &self.name, e))?;
            }
            (Some(_), Some(target)) => {
                let call = ec2c
                    .replace_route()
                    .route_table_id(table)
                    .destination_cidr_block(dest);
                let call = if target.starts_with("nat-") {
                    call.nat_gateway_id(target)
                } else {
                    call.gateway_id(target)
                };
                call.send()
                    .await
                    .map_err(|e| Error::aws("replacing a route of", KIND, &self.name, e))?;
            }
            _ => {
                let result = ec2c
                    .delete_route()
                    .route_table_id(table)
                    .destination_cidr_block(dest)
                    .send()
                    .await;
                gone_ok(
                    result
                        .map(|_| ())
                        .map_err(|e| Error::aws("deleting a route of", KIND, &self.name, e)),
                )?;
            }
        }
        Ok(())
    }

    async fn move_association(&self, ctx: &Ctx, table: &str, subnet: &str) -> Result<(), Error> {
        let fail = |e| Error::aws("moving a subnet association to", KIND, &self.name, e);
        let tables = ec2::route_tables_where(ctx, &self.name, |c| {
            c.filters(ec2::filter("association.subnet-id", [subnet.to_string()]))
        })
        .await?;
        let assoc = tables
            .iter()
            .flat_map(|t| t.associations())
            .find(|a| a.subnet_id() == Some(subnet))
            .and_then(|a| a.route_table_association_id())
            .ok_or_else(|| {
                Error::unexpected(
                    KIND,
                    &self.name,
                    format!("{subnet} is said to be associated but no association was found"),
                )
            })?;
        ctx.aws
            .ec2
            .replace_route_table_association()
            .association_id(assoc)
            .route_table_id(table)
            .send()
            .await
            .map_err(fail)?;
        Ok(())
    }

    async fn update_associations(
        &self,
        ctx: &Ctx,
        current: &Observed,
        c: &Change,
    ) -> Result<(), Error> {
        let have = split(c.old.as_ref());
        let want = split(c.new.as_ref());
        for subnet in have.difference(&want) {
            if let Some(assoc) = current
                .details
                .get(&format!("{ASSOCIATION_PREFIX}{subnet}"))
            {
                let result = ctx
                    .aws
                    .ec2
                    .disassociate_route_table()
                    .association_id(assoc)
                    .send()
                    .await;
                gone_ok(
                    result
                        .map(|_| ())
                        .map_err(|e| Error::aws("disassociating", KIND, &self.name, e)),
                )?;
            }
        }
        for subnet in want.difference(&have) {
            let result = ctx
                .aws
                .ec2
                .associate_route_table()
                .route_table_id(&current.id)
                .subnet_id(subnet)
                .send()
                .await;
            match result.map_err(|e| Error::aws("associating a subnet with", KIND, &self.name, e)) {
                Ok(_) => {}
                // Associated with another table (one that lost its Name, say):
                // move it over.
                Err(e) if e.code() == Some("Resource.AlreadyAssociated") => {
                    self.move_association(ctx, &current.id, subnet).await?
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Disassociates its subnets, then deletes it.
async fn delete_one(ctx: &Ctx, o: &Observed) -> Result<(), Error> {
    let name = o.display_name();
    for (key, assoc) in &o.details {
        if key.starts_with(ASSOCIATION_PREFIX) {
            retry::delete(ctx, KIND, name, || {
                ctx.aws
                    .ec2
                    .disassociate_route_table()
                    .association_id(assoc)
                    .send()
            })
            .await?;
        }
    }
    retry::delete(ctx, KIND, name, || {
        ctx.aws
            .ec2
            .delete_route_table()
            .route_table_id(&o.id)
            .send()
    })
    .await
}
