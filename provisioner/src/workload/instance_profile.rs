//! The instance profile that hands the container-instance role to the ECS
//! hosts. Named like its role, under the same IAM path.

use super::iam_role;
use crate::aws::iam;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::{self, Naming};
use crate::Error;
use async_trait::async_trait;

pub const KIND: &str = "instance-profile";

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, iam_role::instance_role_name(naming))
}

pub struct InstanceProfileKind;

#[async_trait]
impl Kind for InstanceProfileKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[iam_role::KIND]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let mut found = Vec::new();
        for name in iam::instance_profiles_under(ctx, &iam_role::path(&ctx.naming)).await? {
            found.extend(find(ctx, &name).await?);
        }
        Ok(found)
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            let name = o.display_name();
            for role in roles(o) {
                retry::delete(ctx, KIND, name, || {
                    ctx.aws
                        .iam
                        .remove_role_from_instance_profile()
                        .instance_profile_name(name)
                        .role_name(role)
                        .send()
                })
                .await?;
            }
            retry::delete(ctx, KIND, name, || {
                ctx.aws
                    .iam
                    .delete_instance_profile()
                    .instance_profile_name(name)
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

fn roles(o: &Observed) -> impl Iterator<Item = &str> {
    o.attrs
        .get("role")
        .into_iter()
        .flat_map(|r| r.split(','))
        .filter(|r| !r.is_empty())
}

/// The profile with its roles and tags, when it exists.
async fn find(ctx: &Ctx, name: &str) -> Result<Option<Observed>, Error> {
    let Some(p) = iam::find_instance_profile(ctx, name).await? else {
        return Ok(None);
    };
    let tags = iam::tags(p.tags());
    let mut attrs = tags.attrs();
    let names: Vec<&str> = p.roles().iter().map(|r| r.role_name()).collect();
    attrs.insert("role".into(), names.join(","));
    Ok(Some(Observed {
        kind: KIND,
        id: p.arn().to_string(),
        name: Some(name.to_string()),
        attrs,
        details: Attrs::new(),
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    }))
}

pub struct InstanceProfile {
    pub naming: Naming,
}

impl InstanceProfile {
    fn name(&self) -> String {
        iam_role::instance_role_name(&self.naming)
    }
}

#[async_trait]
impl Resource for InstanceProfile {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![Key::new(iam_role::KIND, self.name())]
    }

    fn desired(&self, _refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&self.name());
        a.insert("role".into(), self.name());
        a
    }

    /// The profile alone; its role is added as an update.
    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
        let name = self.name();
        let out = ctx
            .aws
            .iam
            .create_instance_profile()
            .instance_profile_name(&name)
            .path(iam_role::path(&self.naming))
            .set_tags(Some(iam::aws_tags(&self.naming, &name)?))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &name, e))?;
        out.instance_profile()
            .map(|p| p.arn().to_string())
            .ok_or_else(|| Error::unexpected(KIND, &name, "CreateInstanceProfile returned nothing"))
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        find(ctx, &self.name()).await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        let client = &ctx.aws.iam;
        let name = self.name();
        if changes.iter().any(|c| c.attr == "role") {
            // An instance profile holds at most one role: swap it.
            for old in roles(current) {
                client
                    .remove_role_from_instance_profile()
                    .instance_profile_name(&name)
                    .role_name(old)
                    .send()
                    .await
                    .map_err(|e| Error::aws("remove the role from", KIND, &name, e))?;
            }
            client
                .add_role_to_instance_profile()
                .instance_profile_name(&name)
                .role_name(&name)
                .send()
                .await
                .map_err(|e| Error::aws("add the role to", KIND, &name, e))?;
        }
        let set = tags::to_set(changes);
        if !set.is_empty() {
            client
                .tag_instance_profile()
                .instance_profile_name(&name)
                .set_tags(Some(iam::tag_list(set, &name)?))
                .send()
                .await
                .map_err(|e| Error::aws("tagging", KIND, &name, e))?;
        }
        Ok(())
    }
}
