//! Subnets: found inside the VPC by Name, or by CIDR when the Name tag is
//! gone; CIDR, zone and VPC are fixed at creation.

use crate::aws::ec2;
use crate::engine::{
    run_bounded, Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State,
};
use crate::network::vpc;
use crate::retry;
use crate::tags::{Naming, ATTR_PREFIX};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, Subnet as AwsSubnet, SubnetState};
use futures::FutureExt;

pub const KIND: &str = "subnet";
const CIDR: &str = "cidr";
const ZONE: &str = "availability zone";
const VPC: &str = "vpc";

pub struct SubnetKind;

#[async_trait]
impl Kind for SubnetKind {
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
        let subnets = ec2::subnets_in(ctx, vpcs).await?;
        Ok(subnets.iter().map(|s| observe(&ctx.naming, s)).collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        run_bounded(
            ctx,
            items
                .iter()
                .map(|o| {
                    retry::delete(ctx, KIND, o.display_name(), move || {
                        ctx.aws.ec2.delete_subnet().subnet_id(&o.id).send()
                    })
                    .boxed()
                })
                .collect(),
        )
        .await
    }
}

fn observe(naming: &Naming, s: &AwsSubnet) -> Observed {
    let tags = ec2::tags(s.tags());
    let mut attrs = tags.attrs();
    attrs.insert(CIDR.into(), s.cidr_block().unwrap_or_default().to_string());
    attrs.insert(
        ZONE.into(),
        s.availability_zone().unwrap_or_default().to_string(),
    );
    attrs.insert(VPC.into(), s.vpc_id().unwrap_or_default().to_string());
    let status = s.state().map(|s| s.as_str()).unwrap_or("unknown");
    Observed {
        kind: KIND,
        id: s.subnet_id().unwrap_or_default().to_string(),
        name: tags.name(),
        attrs,
        details: Attrs::new(),
        state: State::from_status(s.state() == Some(&SubnetState::Available), status),
        owned: tags.owned_by(naming),
    }
}

pub struct Subnet {
    pub naming: Naming,
    pub name: String,
    pub vpc: Key,
    pub cidr: String,
    pub zone: String,
}

#[async_trait]
impl Resource for Subnet {
    fn key(&self) -> Key {
        Key::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![self.vpc.clone()]
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut attrs = self.naming.desired_tags(&self.name);
        attrs.insert(CIDR.into(), self.cidr.clone());
        attrs.insert(ZONE.into(), self.zone.clone());
        attrs.insert(VPC.into(), refs.id(&self.vpc));
        attrs
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let out = ctx
            .aws
            .ec2
            .create_subnet()
            .vpc_id(refs.require(&self.vpc)?)
            .cidr_block(&self.cidr)
            .availability_zone(&self.zone)
            .tag_specifications(ec2::tag_spec(ResourceType::Subnet, &ctx.naming, &self.name))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &self.name, e))?;
        out.subnet()
            .and_then(|s| s.subnet_id())
            .map(str::to_string)
            .ok_or_else(|| Error::unexpected(KIND, &self.name, "CreateSubnet returned no subnet"))
    }

    async fn read(&self, ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error> {
        Ok(ec2::find_subnet(ctx, id)
            .await?
            .map(|s| observe(&ctx.naming, &s)))
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

    fn adopts(&self, observed: &Observed) -> bool {
        observed.name.is_none() && observed.attrs.get(CIDR) == Some(&self.cidr)
    }
}
