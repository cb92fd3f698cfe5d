//! The Redis AUTH token (prod): generated once from the OS's random source,
//! kept in SSM Parameter Store as a SecureString, read only when creating
//! the replication group, handed to the task as a secret, never printed and
//! never an attribute (plans show its ARN only).

use crate::aws::ssm;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ssm::types::ParameterType;

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
    ssm::find_parameter(ctx, &name, true)
        .await?
        .as_ref()
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
        find(ctx).await.map(|o| o.into_iter().collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            retry::delete(ctx, KIND, o.display_name(), || {
                ctx.aws.ssm.delete_parameter().name(o.display_name()).send()
            })
            .await?;
        }
        Ok(())
    }
}

/// The parameter's metadata and tags, when it exists; never its value.
async fn find(ctx: &Ctx) -> Result<Option<Observed>, Error> {
    let name = parameter_name(&ctx.naming);
    let Some(p) = ssm::find_parameter(ctx, &name, false).await? else {
        return Ok(None);
    };
    let tags = ssm::tags_of(ctx, KIND, &name).await?;
    let mut attrs = tags.attrs();
    attrs.insert(
        "type".into(),
        p.r#type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
    );
    Ok(Some(Observed {
        kind: KIND,
        id: p.arn().unwrap_or_default().to_string(),
        name: Some(name),
        attrs,
        details: Attrs::new(),
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    }))
}

pub struct AuthToken {
    pub naming: Naming,
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
        let mut a = self.naming.desired_tags(&parameter_name(&self.naming));
        a.insert("type".into(), "SecureString".into());
        a
    }

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
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
            .set_tags(Some(ssm::aws_tags(&self.naming, &name)?))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &name, e))?;
        Ok(name)
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        find(ctx).await
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
        ssm::update_tags(ctx, KIND, &name, changes).await
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
