//! The instance profile that hands the container-instance role to the ECS
//! hosts. Named like its role, under the same IAM path.

use super::{iam_role, tagging};
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::is_not_found;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

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
        let iam = &ctx.aws.iam;
        let prefix = iam_role::path(&ctx.naming);
        let out = iam
            .list_instance_profiles()
            .path_prefix(&prefix)
            .send()
            .await
            .map_err(|e| Error::aws("list", KIND, &prefix, e))?;
        let mut found = Vec::new();
        for p in out.instance_profiles() {
            let name = p.instance_profile_name().to_string();
            // ListInstanceProfiles leaves tags out; GetInstanceProfile has them.
            let full = iam
                .get_instance_profile()
                .instance_profile_name(&name)
                .send()
                .await
                .map_err(|e| Error::aws("describe", KIND, &name, e))?;
            let tags = full
                .instance_profile()
                .map(|p| p.tags())
                .unwrap_or_default();
            let pairs: Vec<(&str, &str)> = tags.iter().map(|t| (t.key(), t.value())).collect();
            let mut attrs = tagging::observed(pairs.iter().copied());
            let roles: Vec<&str> = p.roles().iter().map(|r| r.role_name()).collect();
            attrs.insert("role".into(), roles.join(","));
            let mut details = Attrs::new();
            details.insert("name".into(), name.clone());
            found.push(Observed {
                kind: KIND,
                id: p.arn().to_string(),
                name: Some(name),
                attrs,
                details,
                ready: true,
                owned: tagging::owns(&ctx.naming, &pairs),
            });
        }
        Ok(found)
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        let iam = &ctx.aws.iam;
        for o in items {
            let name = o
                .details
                .get("name")
                .cloned()
                .unwrap_or_else(|| o.display_name().to_string());
            for role in o
                .attrs
                .get("role")
                .into_iter()
                .flat_map(|r| r.split(','))
                .filter(|r| !r.is_empty())
            {
                match iam
                    .remove_role_from_instance_profile()
                    .instance_profile_name(&name)
                    .role_name(role)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(Error::aws("remove the role from", KIND, &name, e)),
                }
            }
            match iam
                .delete_instance_profile()
                .instance_profile_name(&name)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::aws("delete", KIND, &name, e)),
            }
        }
        Ok(())
    }
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
        let mut a = tagging::desired(&self.naming, &self.name());
        a.insert("role".into(), self.name());
        a
    }

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<Observed, Error> {
        let name = self.name();
        let mut req = ctx
            .aws
            .iam
            .create_instance_profile()
            .instance_profile_name(&name)
            .path(iam_role::path(&self.naming));
        for (k, v) in self.naming.tags(&name) {
            req = req.tags(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| Error::unexpected(KIND, &name, e.to_string()))?,
            );
        }
        let out = req
            .send()
            .await
            .map_err(|e| Error::aws("create", KIND, &name, e))?;
        let mut attrs = tagging::desired(&self.naming, &name);
        attrs.insert("role".into(), String::new());
        let mut details = Attrs::new();
        details.insert("name".into(), name.clone());
        Ok(Observed {
            kind: KIND,
            id: out
                .instance_profile()
                .map(|p| p.arn().to_string())
                .unwrap_or_default(),
            name: Some(name),
            attrs,
            details,
            ready: true,
            owned: true,
        })
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        let iam = &ctx.aws.iam;
        let name = self.name();
        if changes.iter().any(|c| c.attr == "role") {
            // An instance profile holds at most one role: swap it.
            for old in current
                .attrs
                .get("role")
                .into_iter()
                .flat_map(|r| r.split(','))
                .filter(|r| !r.is_empty())
            {
                iam.remove_role_from_instance_profile()
                    .instance_profile_name(&name)
                    .role_name(old)
                    .send()
                    .await
                    .map_err(|e| Error::aws("remove the role from", KIND, &name, e))?;
            }
            iam.add_role_to_instance_profile()
                .instance_profile_name(&name)
                .role_name(&name)
                .send()
                .await
                .map_err(|e| Error::aws("add the role to", KIND, &name, e))?;
        }
        let tags = tagging::to_set(changes);
        if !tags.is_empty() {
            let mut req = iam.tag_instance_profile().instance_profile_name(&name);
            for (k, v) in tags {
                req = req.tags(
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| Error::unexpected(KIND, &name, e.to_string()))?,
                );
            }
            req.send()
                .await
                .map_err(|e| Error::aws("tag", KIND, &name, e))?;
        }
        Ok(())
    }
}
