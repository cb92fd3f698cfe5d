//! NAT gateways: found inside the VPC (deleted and deleting ones ignored);
//! created in a public subnet with an Elastic IP; deleted and waited for
//! until gone, so that the address can be released.

use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::{gone_ok, is_not_found};
use crate::network::{ec2, elastic_ip, internet_gateway, subnet, vpc};
use crate::tags::Naming;
use crate::wait::{self, Poll};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, NatGateway as AwsNat, NatGatewayState, ResourceType};
use futures::FutureExt;

pub const KIND: &str = "nat-gateway";
const SUBNET: &str = "subnet";
const ADDRESS: &str = "elastic ip";

pub struct NatGatewayKind;

#[async_trait]
impl Kind for NatGatewayKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[subnet::KIND, elastic_ip::KIND, internet_gateway::KIND]
    }

    async fn discover(&self, ctx: &Ctx, found: &Inventory) -> Result<Vec<Observed>, Error> {
        let vpcs: Vec<String> = found.of(vpc::KIND).iter().map(|v| v.id.clone()).collect();
        if vpcs.is_empty() {
            return Ok(Vec::new());
        }
        let out = ctx
            .aws
            .ec2
            .describe_nat_gateways()
            .filter(ec2::filter("vpc-id", vpcs))
            .filter(ec2::filter(
                "state",
                ["pending".to_string(), "available".to_string()],
            ))
            .send()
            .await
            .map_err(|e| Error::aws("listing", KIND, &ctx.naming.name("nat-*"), e))?;
        Ok(out
            .nat_gateways()
            .iter()
            .map(|n| observe(&ctx.naming, n))
            .collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        ec2::run_bounded(
            ctx,
            items.iter().map(|o| delete_one(ctx, o).boxed()).collect(),
        )
        .await
    }
}

fn observe(naming: &Naming, nat: &AwsNat) -> Observed {
    let tagged = ec2::read_tags(naming, nat.tags());
    let mut attrs = tagged.attrs;
    attrs.insert(
        SUBNET.into(),
        nat.subnet_id().unwrap_or_default().to_string(),
    );
    if let Some(alloc) = nat
        .nat_gateway_addresses()
        .iter()
        .find_map(|a| a.allocation_id())
    {
        attrs.insert(ADDRESS.into(), alloc.to_string());
    }
    Observed {
        kind: KIND,
        id: nat.nat_gateway_id().unwrap_or_default().to_string(),
        name: tagged.name,
        attrs,
        details: Attrs::new(),
        ready: nat.state() == Some(&NatGatewayState::Available),
        owned: tagged.owned,
    }
}

/// Polls until the gateway reaches `target`; a failed gateway is an error
/// carrying AWS's reason.
async fn wait_state(ctx: &Ctx, id: &str, name: &str, target: NatGatewayState) -> Result<(), Error> {
    let label = if target == NatGatewayState::Deleted {
        "deleted"
    } else {
        "available"
    };
    wait::until(&ctx.wait, KIND, name, label, || async {
        let out = ctx
            .aws
            .ec2
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await;
        let out = match out {
            Err(e) if is_not_found(&e) && target == NatGatewayState::Deleted => {
                return Ok(Poll::Done)
            }
            other => other.map_err(|e| Error::aws("reading", KIND, name, e))?,
        };
        let Some(nat) = out.nat_gateways().first() else {
            return Ok(Poll::Done);
        };
        match nat.state() {
            Some(s) if *s == target => Ok(Poll::Done),
            Some(NatGatewayState::Failed) if target != NatGatewayState::Deleted => {
                Err(Error::unexpected(
                    KIND,
                    name,
                    format!(
                        "failed to become available: {}",
                        nat.failure_message().unwrap_or("no reason given")
                    ),
                ))
            }
            Some(NatGatewayState::Failed) => Ok(Poll::Done),
            s => Ok(Poll::Pending(
                s.map(|s| s.as_str().to_string()).unwrap_or_default(),
            )),
        }
    })
    .await
}

pub struct NatGateway {
    pub naming: Naming,
    pub name: String,
    pub subnet: Key,
    pub address: Key,
    /// The gateway only routes once the VPC has an internet gateway.
    pub internet_gateway: Key,
}

#[async_trait]
impl Resource for NatGateway {
    fn key(&self) -> Key {
        Key::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![
            self.subnet.clone(),
            self.address.clone(),
            self.internet_gateway.clone(),
        ]
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut attrs = Attrs::new();
        ec2::desired_tags(&self.naming, &self.name, &mut attrs);
        attrs.insert(SUBNET.into(), refs.id(&self.subnet));
        attrs.insert(ADDRESS.into(), refs.id(&self.address));
        attrs
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let out = ctx
            .aws
            .ec2
            .create_nat_gateway()
            .subnet_id(refs.require(&self.subnet)?)
            .allocation_id(refs.require(&self.address)?)
            .connectivity_type(ConnectivityType::Public)
            .tag_specifications(ec2::tag_spec(
                ResourceType::Natgateway,
                &ctx.naming,
                &self.name,
            ))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &self.name, e))?;
        let nat = out.nat_gateway().ok_or_else(|| {
            Error::unexpected(KIND, &self.name, "CreateNatGateway returned no gateway")
        })?;
        let mut observed = observe(&ctx.naming, nat);
        // The response may omit the address while the gateway is pending.
        observed
            .attrs
            .entry(ADDRESS.into())
            .or_insert_with(|| refs.id(&self.address));
        Ok(observed)
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
            .find(|c| !c.attr.starts_with(crate::tags::ATTR_PREFIX))
        {
            return Err(ec2::immutable(KIND, &self.name, c));
        }
        ec2::update_tags(ctx, KIND, &self.name, &current.id, changes).await
    }

    async fn wait(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        wait_state(ctx, &current.id, &self.name, NatGatewayState::Available).await
    }
}

async fn delete_one(ctx: &Ctx, o: &Observed) -> Result<(), Error> {
    let name = o.display_name();
    let result = ctx
        .aws
        .ec2
        .delete_nat_gateway()
        .nat_gateway_id(&o.id)
        .send()
        .await;
    gone_ok(result, "deleting", KIND, name)?;
    wait_state(ctx, &o.id, name, NatGatewayState::Deleted).await
}
