//! The Redis AUTH token (prod): generated once from the OS's random source,
//! kept in SSM Parameter Store as a SecureString, read only when creating
//! the replication group, handed to the task as a secret, never printed and
//! never an attribute (plans show its ARN only).

use super::tagging;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::is_not_found;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging, Tag};

pub const KIND: &str = "ssm-parameter";

pub fn parameter_name(naming: &Naming) -> String {
    format!(
        "/{}/{}/redis-auth-token",
        naming.project, naming.environment
    )
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, parameter_name(naming))
}

/// 32 random bytes as 64 hex digits: within ElastiCache's 16-128 printable
/// characters and free of the characters it forbids (`@`, `"`, `/`).
pub fn generate_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::unexpected(KIND, "auth token", format!("no OS randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The token's value, decrypted. Callers pass it to AWS and nowhere else.
pub async fn read_token(ctx: &Ctx, naming: &Naming) -> Result<String, Error> {
    let name = parameter_name(naming);
    let out = ctx
        .aws
        .ssm
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| Error::aws("read", KIND, &name, e))?;
    out.parameter()
        .and_then(|p| p.value())
        .map(String::from)
        .ok_or_else(|| Error::unexpected(KIND, &name, "has no value"))
}

pub struct AuthTokenKind;

#[async_trait]
impl Kind for AuthTokenKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let name = parameter_name(&ctx.naming);
        let ssm = &ctx.aws.ssm;
        // Without decryption: the metadata is all discovery needs.
        let out = match ssm
            .get_parameter()
            .name(&name)
            .with_decryption(false)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(Error::aws("describe", KIND, &name, e)),
        };
        let Some(p) = out.parameter() else {
            return Ok(Vec::new());
        };
        let tags = ssm
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(&name)
            .send()
            .await
            .map_err(|e| Error::aws("list tags of", KIND, &name, e))?;
        let pairs: Vec<(&str, &str)> = tags
            .tag_list()
            .iter()
            .map(|t| (t.key(), t.value()))
            .collect();
        let mut attrs = tagging::observed(pairs.iter().copied());
        attrs.insert(
            "type".into(),
            p.r#type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
        );
        Ok(vec![Observed {
            kind: KIND,
            id: p.arn().unwrap_or_default().to_string(),
            name: Some(name),
            attrs,
            details: Attrs::new(),
            ready: true,
            owned: tagging::owns(&ctx.naming, &pairs),
        }])
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            match ctx
                .aws
                .ssm
                .delete_parameter()
                .name(o.display_name())
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::aws("delete", KIND, o.display_name(), e)),
            }
        }
        Ok(())
    }
}

pub struct AuthToken {
    pub naming: Naming,
}

fn ssm_tags(naming: &Naming, name: &str) -> Result<Vec<Tag>, Error> {
    naming
        .tags(name)
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::unexpected(KIND, name, e.to_string()))
        })
        .collect()
}

#[async_trait]
impl Resource for AuthToken {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        Vec::new()
    }

    fn desired(&self, _refs: &Refs) -> Attrs {
        let mut a = tagging::desired(&self.naming, &parameter_name(&self.naming));
        a.insert("type".into(), "SecureString".into());
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let name = parameter_name(&self.naming);
        ctx.aws
            .ssm
            .put_parameter()
            .name(&name)
            .description("Redis AUTH token of the Spaaace replication group")
            .r#type(ParameterType::SecureString)
            .value(generate_token()?)
            // Never replace a token a running replication group uses.
            .overwrite(false)
            .set_tags(Some(ssm_tags(&self.naming, &name)?))
            .send()
            .await
            .map_err(|e| Error::aws("create", KIND, &name, e))?;
        let out = ctx
            .aws
            .ssm
            .get_parameter()
            .name(&name)
            .with_decryption(false)
            .send()
            .await
            .map_err(|e| Error::aws("describe", KIND, &name, e))?;
        Ok(Observed {
            kind: KIND,
            id: out
                .parameter()
                .and_then(|p| p.arn())
                .unwrap_or_default()
                .to_string(),
            name: Some(name),
            attrs: self.desired(refs),
            details: Attrs::new(),
            ready: true,
            owned: true,
        })
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        let name = parameter_name(&self.naming);
        if changes.iter().any(|c| c.attr == "type") {
            return Err(Error::unexpected(
                KIND,
                &name,
                "is not a SecureString; delete it (the replication group must be recreated with a new token)",
            ));
        }
        let tags = tagging::to_set(changes);
        if !tags.is_empty() {
            let tags: Result<Vec<Tag>, Error> = tags
                .into_iter()
                .map(|(k, v)| {
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| Error::unexpected(KIND, &name, e.to_string()))
                })
                .collect();
            ctx.aws
                .ssm
                .add_tags_to_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(&name)
                .set_tags(Some(tags?))
                .send()
                .await
                .map_err(|e| Error::aws("tag", KIND, &name, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_differ() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
