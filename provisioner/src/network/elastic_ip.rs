//! Elastic IPs for the NAT gateways: found by the environment's tags;
//! released only once no NAT gateway holds them (AWS answers
//! `InvalidIPAddress.InUse` meanwhile, which `crate::retry` waits out).

use crate::aws::ec2;
use crate::engine::{
    run_bounded, Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State,
};
use crate::retry;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{Address, DomainType, ResourceType};
use futures::FutureExt;

pub const KIND: &str = "elastic-ip";
const DOMAIN: &str = "domain";

pub struct ElasticIpKind;

#[async_trait]
impl Kind for ElasticIpKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let owned = ec2::owned_filters(&ctx.naming);
        let addresses = ec2::addresses(ctx, &ctx.naming.name("*-eip"), |c| {
            c.set_filters(Some(owned))
        })
        .await?;
        Ok(addresses.iter().map(|a| observe(&ctx.naming, a)).collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        run_bounded(
            ctx,
            items
                .iter()
                .map(|o| {
                    retry::delete(ctx, KIND, o.display_name(), move || {
                        ctx.aws.ec2.release_address().allocation_id(&o.id).send()
                    })
                    .boxed()
                })
                .collect(),
        )
        .await
    }
}

fn observe(naming: &Naming, a: &Address) -> Observed {
    let tags = ec2::tags(a.tags());
    let mut attrs = tags.attrs();
    attrs.insert(
        DOMAIN.into(),
        a.domain().map(|d| d.as_str()).unwrap_or("vpc").to_string(),
    );
    Observed {
        kind: KIND,
        id: a.allocation_id().unwrap_or_default().to_string(),
        name: tags.name(),
        attrs,
        details: Attrs::new(),
        state: State::Ready,
        owned: tags.owned_by(naming),
    }
}

pub struct ElasticIp {
    pub naming: Naming,
    pub name: String,
}

#[async_trait]
impl Resource for ElasticIp {
    fn key(&self) -> Key {
        Key::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<Key> {
        Vec::new()
    }

    fn desired(&self, _refs: &Refs) -> Attrs {
        let mut attrs = self.naming.desired_tags(&self.name);
        attrs.insert(DOMAIN.into(), "vpc".into());
        attrs
    }

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
        let out = ctx
            .aws
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(ec2::tag_spec(
                ResourceType::ElasticIp,
                &ctx.naming,
                &self.name,
            ))
            .send()
            .await
            .map_err(|e| Error::aws("allocating", KIND, &self.name, e))?;
        out.allocation_id().map(str::to_string).ok_or_else(|| {
            Error::unexpected(
                KIND,
                &self.name,
                "AllocateAddress returned no allocation id",
            )
        })
    }

    async fn read(&self, ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error> {
        Ok(ec2::find_address(ctx, id)
            .await?
            .map(|a| observe(&ctx.naming, &a)))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        if let Some(c) = changes.iter().find(|c| c.attr == DOMAIN) {
            return Err(ec2::immutable(KIND, &self.name, c));
        }
        ec2::update_tags(ctx, KIND, &self.name, &current.id, changes).await
    }
}
