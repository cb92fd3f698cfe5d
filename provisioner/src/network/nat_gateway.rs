//! NAT gateways: found inside the VPC (deleted and deleting ones ignored);
//! created in a public subnet with an Elastic IP; deleted and waited for
//! until gone, so that the address can be released.

use crate::aws::ec2;
use crate::engine::{
    run_bounded, Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State,
};
use crate::network::{elastic_ip, internet_gateway, subnet, vpc};
use crate::retry::{self, Presence};
use crate::tags::{Naming, ATTR_PREFIX};
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
        let nats = ec2::nat_gateways(ctx, &ctx.naming.name("nat-*"), |c| {
            c.filter(ec2::filter("vpc-id", vpcs)).filter(ec2::filter(
                "state",
                ["pending".to_string(), "available".to_string()],
            ))
        })
        .await?;
        Ok(nats.iter().map(|n| observe(&ctx.naming, n)).collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        run_bounded(
            ctx,
            items.iter().map(|o| delete_one(ctx, o).boxed()).collect(),
        )
        .await
    }
}

fn observe(naming: &Naming, nat: &AwsNat) -> Observed {
    let tags = ec2::tags(nat.tags());
    let mut attrs = tags.attrs();
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
    let state = match nat.state() {
        Some(NatGatewayState::Available) => State::Ready,
        Some(NatGatewayState::Failed) => State::Failed(
            nat.failure_message()
                .unwrap_or("no reason given")
                .to_string(),
        ),
        other => State::Pending(other.map(|s| s.as_str()).unwrap_or("unknown").to_string()),
    };
    Observed {
        kind: KIND,
        id: nat.nat_gateway_id().unwrap_or_default().to_string(),
        name: tags.name(),
        attrs,
        details: Attrs::new(),
        state,
        owned: tags.owned_by(naming),
    }
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
        let mut attrs = self.naming.desired_tags(&self.name);
        attrs.insert(SUBNET.into(), refs.id(&self.subnet));
        attrs.insert(ADDRESS.into(), refs.id(&self.address));
        attrs
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
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
        out.nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::unexpected(KIND, &self.name, "CreateNatGateway returned no gateway")
            })
    }

    async fn read(&self, ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error> {
        Ok(ec2::find_nat_gateway(ctx, id)
            .await?
            .filter(|n| n.state() != Some(&NatGatewayState::Deleted))
            .map(|n| observe(&ctx.naming, &n)))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        if let Some(c) = changes.iter().find(|c| !c.attr.starts_with(ATTR_PREFIX)) {
            return Err(ec2::immutable(KIND, &self.name, c));
        }
        ec2::update_tags(ctx, KIND, &self.name, &current.id, changes).await
    }
}

/// Deletes and waits until AWS reports it deleted (or no longer knows it).
async fn delete_one(ctx: &Ctx, o: &Observed) -> Result<(), Error> {
    let name = o.display_name();
    let delete = || async {
        ctx.aws
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&o.id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("deleting", KIND, name, e))
    };
    let probe = || async {
        Ok(match ec2::find_nat_gateway(ctx, &o.id).await? {
            None => Presence::Gone,
            Some(n) => match n.state() {
                Some(NatGatewayState::Deleted) | Some(NatGatewayState::Failed) => Presence::Gone,
                Some(NatGatewayState::Deleting) => Presence::Going("deleting".into()),
                s => Presence::Present(s.map(|s| s.as_str()).unwrap_or("unknown").to_string()),
            },
        })
    };
    retry::delete_until_gone(ctx, KIND, name, delete, probe).await
}
