//! IAM: tags, policy documents compared by content, and finding roles,
//! their inline policies and instance profiles.

use crate::engine::Ctx;
use crate::error::found;
use crate::tags::Tags;
use crate::Error;
use aws_sdk_iam::types::{InstanceProfile, Role, Tag};
use serde_json::Value;

checked_tags!(aws_sdk_iam::types::Tag);

pub fn tags(aws: &[Tag]) -> Tags {
    Tags::new(aws.iter().map(|t| (t.key(), t.value())))
}

/// JSON documents compare by content: IAM returns them URL-encoded and
/// re-ordered.
pub fn canonical(doc: &str) -> String {
    let decoded = percent_decode(doc);
    serde_json::from_str::<Value>(&decoded)
        .map(|v| v.to_string())
        .unwrap_or(decoded)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Names of the roles under a path.
pub async fn roles_under(ctx: &Ctx, path: &str) -> Result<Vec<String>, Error> {
    let mut pages = ctx
        .aws
        .iam
        .list_roles()
        .path_prefix(path)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("listing", "iam-role", path, e))?;
        names.extend(page.roles().iter().map(|r| r.role_name().to_string()));
    }
    Ok(names)
}

/// A role with its tags (ListRoles leaves tags out; GetRole has them).
pub async fn find_role(ctx: &Ctx, name: &str) -> Result<Option<Role>, Error> {
    let out = found(
        ctx.aws
            .iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "iam-role", name, e)),
    )?;
    Ok(out.and_then(|o| o.role().cloned()))
}

/// An inline policy's document, canonical.
pub async fn find_role_policy(
    ctx: &Ctx,
    role: &str,
    policy: &str,
) -> Result<Option<String>, Error> {
    let out = found(
        ctx.aws
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| Error::aws("reading the policy of", "iam-role", role, e)),
    )?;
    Ok(out.map(|o| canonical(o.policy_document())))
}

/// Names of the instance profiles under a path.
pub async fn instance_profiles_under(ctx: &Ctx, path: &str) -> Result<Vec<String>, Error> {
    let mut pages = ctx
        .aws
        .iam
        .list_instance_profiles()
        .path_prefix(path)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("listing", "instance-profile", path, e))?;
        names.extend(
            page.instance_profiles()
                .iter()
                .map(|p| p.instance_profile_name().to_string()),
        );
    }
    Ok(names)
}

/// An instance profile with its roles and tags.
pub async fn find_instance_profile(
    ctx: &Ctx,
    name: &str,
) -> Result<Option<InstanceProfile>, Error> {
    let out = found(
        ctx.aws
            .iam
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "instance-profile", name, e)),
    )?;
    Ok(out.and_then(|o| o.instance_profile().cloned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_compare_by_content_not_encoding() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}"#;
        let encoded = doc
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22");
        assert_eq!(canonical(&encoded), canonical(doc));
        assert_ne!(canonical(doc), canonical(&doc.replace("Allow", "Deny")));
    }
}
