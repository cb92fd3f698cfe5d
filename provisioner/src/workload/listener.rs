//! The load balancer's listeners: HTTP on 80, and HTTPS on 443 when the
//! profile names a certificate; both forward to the gameserver target group.

use super::{load_balancer, tagging, target_group};
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::aws_code;
use crate::error::is_not_found;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, Listener as AwsListener, ProtocolEnum, Tag,
};

pub const KIND: &str = "listener";
/// TLS policy of the HTTPS listener: TLS 1.2 and 1.3 only.
const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

pub fn name(naming: &Naming, port: u16) -> String {
    naming.name(if port == 443 { "https" } else { "http" })
}

pub struct ListenerKind;

fn observe(l: &AwsListener, tags: &[(String, String)], ctx: &Ctx) -> Observed {
    let pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut attrs = tagging::observed(pairs.iter().copied());
    attrs.insert(
        "port".into(),
        l.port().map(|p| p.to_string()).unwrap_or_default(),
    );
    attrs.insert(
        "protocol".into(),
        l.protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
    );
    let forward: Vec<&str> = l
        .default_actions()
        .iter()
        .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .filter_map(|a| a.target_group_arn())
        .collect();
    attrs.insert("target_group".into(), forward.join(","));
    if let Some(cert) = l.certificates().first().and_then(|c| c.certificate_arn()) {
        attrs.insert("certificate".into(), cert.to_string());
    }
    Observed {
        kind: KIND,
        id: l.listener_arn().unwrap_or_default().to_string(),
        name: tagging::name_of(&pairs),
        attrs,
        details: Attrs::new(),
        ready: true,
        owned: tagging::owns(&ctx.naming, &pairs),
    }
}

/// Every listener of a load balancer, with its tags.
async fn listeners_of(ctx: &Ctx, lb: &Observed) -> Result<Vec<Observed>, Error> {
    let out = match ctx
        .aws
        .elbv2
        .describe_listeners()
        .load_balancer_arn(&lb.id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::aws(
                "list listeners of",
                load_balancer::KIND,
                lb.display_name(),
                e,
            ))
        }
    };
    let arns: Vec<String> = out
        .listeners()
        .iter()
        .filter_map(|l| l.listener_arn())
        .map(String::from)
        .collect();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let tags = ctx
        .aws
        .elbv2
        .describe_tags()
        .set_resource_arns(Some(arns))
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                "describe tags of listeners of",
                load_balancer::KIND,
                lb.display_name(),
                e,
            )
        })?;
    Ok(out
        .listeners()
        .iter()
        .map(|l| {
            let arn = l.listener_arn().unwrap_or_default();
            let pairs: Vec<(String, String)> = tags
                .tag_descriptions()
                .iter()
                .filter(|d| d.resource_arn() == Some(arn))
                .flat_map(|d| d.tags())
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            observe(l, &pairs, ctx)
        })
        .collect())
}

#[async_trait]
impl Kind for ListenerKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[load_balancer::KIND, target_group::KIND]
    }

    async fn discover(&self, ctx: &Ctx, found: &Inventory) -> Result<Vec<Observed>, Error> {
        let mut all = Vec::new();
        for lb in found.of(load_balancer::KIND).iter().filter(|lb| lb.owned) {
            all.extend(listeners_of(ctx, lb).await?);
        }
        Ok(all)
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            match ctx
                .aws
                .elbv2
                .delete_listener()
                .listener_arn(&o.id)
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

pub struct Listener {
    pub naming: Naming,
    pub port: u16,
    /// Set for HTTPS.
    pub certificate_arn: Option<String>,
}

impl Listener {
    fn protocol(&self) -> ProtocolEnum {
        if self.certificate_arn.is_some() {
            ProtocolEnum::Https
        } else {
            ProtocolEnum::Http
        }
    }

    fn forward(&self, refs: &Refs) -> Result<Action, Error> {
        Ok(Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(refs.require(&target_group::key(&self.naming))?)
            .build())
    }

    fn certificates(&self) -> Option<Vec<Certificate>> {
        self.certificate_arn
            .as_ref()
            .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
    }
}

#[async_trait]
impl Resource for Listener {
    fn key(&self) -> Key {
        Key::new(KIND, name(&self.naming, self.port))
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![
            load_balancer::key(&self.naming),
            target_group::key(&self.naming),
        ]
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = tagging::desired(&self.naming, &name(&self.naming, self.port));
        a.insert("port".into(), self.port.to_string());
        a.insert("protocol".into(), self.protocol().as_str().to_string());
        a.insert(
            "target_group".into(),
            refs.id(&target_group::key(&self.naming)),
        );
        if let Some(cert) = &self.certificate_arn {
            a.insert("certificate".into(), cert.clone());
        }
        a
    }

    /// A listener on the port that exists without our Name tag (a lost tag,
    /// or a concurrent run) is ours to repair, not a reason to fail.
    fn adopts(&self, observed: &Observed) -> bool {
        observed.attrs.get("port") == Some(&self.port.to_string())
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let name = name(&self.naming, self.port);
        let lb_key = load_balancer::key(&self.naming);
        let lb_arn = refs.require(&lb_key)?.to_string();
        let mut req = ctx
            .aws
            .elbv2
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .port(i32::from(self.port))
            .protocol(self.protocol())
            .default_actions(self.forward(refs)?)
            .set_certificates(self.certificates());
        if self.certificate_arn.is_some() {
            req = req.ssl_policy(TLS_POLICY);
        }
        for (k, v) in self.naming.tags(&name) {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        match req.send().await {
            Ok(out) => {
                let l = out.listeners().first().ok_or_else(|| {
                    Error::unexpected(KIND, &name, "CreateListener returned no listener")
                })?;
                let mut o = observe(l, &[], ctx);
                o.attrs.extend(tagging::desired(&self.naming, &name));
                o.name = Some(name);
                o.owned = true;
                Ok(o)
            }
            // Another listener holds the port (created since discovery):
            // take it over and let `update` bring it to the desired state.
            Err(e) if aws_code(&e) == Some("DuplicateListener") => {
                let lb = Observed {
                    kind: load_balancer::KIND,
                    id: lb_arn,
                    name: Some(lb_key.name.clone()),
                    attrs: Attrs::new(),
                    details: Attrs::new(),
                    ready: true,
                    owned: true,
                };
                let existing = listeners_of(ctx, &lb).await?;
                tracing::warn!("listener on port {} already exists; adopting it", self.port);
                existing
                    .into_iter()
                    .find(|o| self.adopts(o))
                    .ok_or_else(|| {
                        Error::unexpected(
                            KIND,
                            &name,
                            "AWS reports a duplicate listener but none is on the port",
                        )
                    })
            }
            Err(e) => Err(Error::aws("create", KIND, &name, e)),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        refs: &Refs,
    ) -> Result<(), Error> {
        let name = name(&self.naming, self.port);
        if tagging::non_tag(changes).next().is_some() {
            let mut req = ctx
                .aws
                .elbv2
                .modify_listener()
                .listener_arn(&current.id)
                .port(i32::from(self.port))
                .protocol(self.protocol())
                .default_actions(self.forward(refs)?)
                .set_certificates(self.certificates());
            if self.certificate_arn.is_some() {
                req = req.ssl_policy(TLS_POLICY);
            }
            req.send()
                .await
                .map_err(|e| Error::aws("modify", KIND, &name, e))?;
        }
        target_group::add_tags(ctx, KIND, &name, &current.id, tagging::to_set(changes)).await
    }
}
