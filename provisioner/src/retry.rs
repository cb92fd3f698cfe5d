//! The one retry policy. The SDK itself retries throttling and server
//! errors (configured in `crate::aws`); what it cannot know is which answers
//! only mean "not yet" for this tool:
//!
//! - **not yet visible**: AWS is eventually consistent, so something created
//!   a moment ago (by this run) can answer NotFound, and IAM roles, instance
//!   profiles and ECS's service-linked role take a while to reach the
//!   services that use them. Retried for `WaitPolicy::settle`.
//! - **busy**: something else still holds the resource (network interfaces
//!   after a NAT gateway or load balancer, a replication group still
//!   changing state, scaling activities, a cluster update in progress).
//!   Retried for `WaitPolicy::timeout`: these settle in minutes.
//!
//! Each rule names the AWS answer it matches and where it is documented.

use crate::engine::Ctx;
use crate::wait::{self, Poll};
use crate::Error;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use std::future::Future;
use std::sync::Mutex;

/// How long an answer means "not yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    NotYetVisible,
    Busy,
}

/// One AWS answer: its code, and a part of its message when the code alone
/// is too general.
struct Rule {
    code: &'static str,
    message: Option<&'static str>,
    means: Transient,
}

const fn rule(code: &'static str, message: Option<&'static str>, means: Transient) -> Rule {
    Rule {
        code,
        message,
        means,
    }
}

use Transient::{Busy, NotYetVisible};

const RULES: &[Rule] = &[
    // ValidationError: You must use a valid fully-formed launch template.
    // Value (name) for parameter iamInstanceProfile.name is invalid. Invalid
    // IAM Instance Profile name -- a new instance profile has not reached
    // EC2 (terraform-provider-aws internal/service/autoscaling/group.go,
    // resourceGroupCreate, retries this message).
    rule(
        "ValidationError",
        Some("Invalid IAM Instance Profile"),
        NotYetVisible,
    ),
    // ECS creates its service-linked role lazily in a new account:
    // "InvalidParameterException: Unable to assume the service linked role.
    // Please verify that the ECS service linked role exists."
    // (terraform-provider-aws internal/service/ecs/cluster.go,
    // retryClusterCreate).
    rule(
        "InvalidParameterException",
        Some("Unable to assume the service linked role"),
        NotYetVisible,
    ),
    // "The target group with targetGroupArn ... does not have an associated
    // load balancer." just after the listener is created, and "Please verify
    // that the ECS service role being passed has the proper permissions."
    // while IAM propagates (terraform-provider-aws
    // internal/service/ecs/service.go retries both on create and update).
    rule(
        "InvalidParameterException",
        Some("does not have an associated load balancer"),
        NotYetVisible,
    ),
    rule(
        "InvalidParameterException",
        Some("verify that the ECS service role being passed has the proper permissions"),
        NotYetVisible,
    ),
    // EC2: a dependent object still exists (network interfaces of a NAT
    // gateway or load balancer, a mapped public address). EC2 API reference,
    // "Error codes for the Amazon EC2 API".
    rule("DependencyViolation", None, Busy),
    rule("InvalidIPAddress.InUse", None, Busy),
    // ElastiCache: "The requested replication group is not in the available
    // state." and a subnet group a deleting group still uses (ElastiCache API
    // reference, DeleteReplicationGroup and DeleteCacheSubnetGroup errors).
    rule("InvalidReplicationGroupState", None, Busy),
    rule("CacheSubnetGroupInUse", None, Busy),
    // Auto Scaling: instances or scaling activities still in the group
    // (terraform-provider-aws group.go, resourceGroupDelete, retries
    // ResourceInUseFault and ScalingActivityInProgressFault).
    rule("ResourceInUse", None, Busy),
    rule("ScalingActivityInProgress", None, Busy),
    // ECS: a capacity provider still attached or a cluster update running;
    // "Cluster was not ACTIVE" while it settles (terraform-provider-aws
    // internal/service/ecs/cluster_capacity_providers.go,
    // retryClusterCapacityProvidersPut), hosts or tasks still registered.
    rule("ResourceInUseException", None, Busy),
    rule("UpdateInProgressException", None, Busy),
    rule("ClientException", Some("Cluster was not ACTIVE"), Busy),
    rule("ClusterContainsContainerInstancesException", None, Busy),
    rule("ClusterContainsTasksException", None, Busy),
    rule("ClusterContainsServicesException", None, Busy),
    // A service already draining when its delete is sent again.
    rule("ServiceNotActiveException", None, Busy),
    // IAM: a role still in an instance profile (IAM API reference,
    // DeleteRole errors).
    rule("DeleteConflict", None, Busy),
];

/// What an error means for a retry, if anything.
pub fn classify(err: &Error) -> Option<Transient> {
    let code = err.code()?;
    let message = err.message().unwrap_or_default();
    if err.is_not_found() {
        return Some(NotYetVisible);
    }
    RULES
        .iter()
        .find(|r| r.code == code && r.message.is_none_or(|m| message.contains(m)))
        .map(|r| r.means)
}

/// Runs `op` again while AWS has not caught up with a recent change (an
/// answer that means "not yet visible"), for at most `settle`.
pub async fn settling<T, F, Fut>(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    mut op: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let value = Mutex::new(None);
    let last = Mutex::new(None);
    let result = wait::until(&ctx.wait.settling(), kind, name, "visible to AWS", || {
        let attempt = op();
        let (value, last) = (&value, &last);
        async move {
            match attempt.await {
                Ok(v) => {
                    *lock(value) = Some(v);
                    Ok(Poll::Done)
                }
                Err(e) if classify(&e) == Some(NotYetVisible) => {
                    tracing::debug!("{e}; retrying");
                    let state = e.to_string();
                    *lock(last) = Some(e);
                    Ok(Poll::Pending(state))
                }
                Err(e) => Err(e),
            }
        }
    })
    .await;
    let value = value.into_inner().unwrap_or_else(|p| p.into_inner());
    let last = last.into_inner().unwrap_or_else(|p| p.into_inner());
    match (result, value) {
        (Ok(()), Some(v)) => Ok(v),
        (Err(e), _) => Err(last_answer(e, last)),
        (Ok(()), None) => Err(Error::unexpected(kind, name, "retry ended without a value")),
    }
}

/// Deletes with `op`: already gone is success, and an answer that means
/// "busy" is retried for at most the wait policy's timeout.
pub async fn deleting<F, Fut>(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    mut op: F,
) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    while_busy(ctx, kind, name, || {
        let attempt = op();
        async move { crate::error::gone_ok(attempt.await) }
    })
    .await
}

/// Runs `op` again while AWS answers that something else still holds the
/// resource, for at most the wait policy's timeout.
pub async fn while_busy<F, Fut>(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    mut op: F,
) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let last = Mutex::new(None);
    let result = wait::until(&ctx.wait, kind, name, "free", || {
        let attempt = op();
        let last = &last;
        async move {
            match attempt.await {
                Ok(()) => Ok(Poll::Done),
                Err(e) if classify(&e) == Some(Busy) => {
                    let state = e.to_string();
                    *lock(last) = Some(e);
                    Ok(Poll::Pending(state))
                }
                Err(e) => Err(e),
            }
        }
    })
    .await;
    let last = last.into_inner().unwrap_or_else(|p| p.into_inner());
    result.map_err(|e| last_answer(e, last))
}

/// Deletes with one SDK call: already gone is success, and an answer that
/// means "busy" is retried for at most the wait policy's timeout.
pub async fn delete<F, Fut, T, E>(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    mut call: F,
) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    deleting(ctx, kind, name, || {
        let attempt = call();
        async move {
            attempt
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("deleting", kind, name, e))
        }
    })
    .await
}

/// Whether a resource being deleted is still there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    Gone,
    /// On its way out (deleting, draining), with AWS's word.
    Going(String),
    /// Still there as it was, with AWS's word: the delete is (re)sent.
    Present(String),
}

/// Deletes until AWS no longer knows the resource. The delete is sent
/// whenever `probe` finds it present: at first, again after AWS answered
/// NotFound for something that exists (eventual consistency right after a
/// create) or let a delete fail, and again after a "busy" answer. While it
/// is going, this only waits. At most the wait policy's timeout.
pub async fn delete_until_gone<D, DF, P, PF>(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    delete: D,
    probe: P,
) -> Result<(), Error>
where
    D: Fn() -> DF,
    DF: Future<Output = Result<(), Error>>,
    P: FnMut() -> PF,
    PF: Future<Output = Result<Presence, Error>>,
{
    let probe = Mutex::new(probe);
    let look = || async {
        let next = lock(&probe)();
        next.await
    };
    wait::until(&ctx.wait, kind, name, "deleted", || async {
        let state = match look().await? {
            Presence::Gone => return Ok(Poll::Done),
            Presence::Going(state) => return Ok(Poll::Pending(state)),
            Presence::Present(state) => state,
        };
        match delete().await {
            // Often gone at once: look again before waiting.
            Ok(()) => Ok(match look().await? {
                Presence::Gone => Poll::Done,
                Presence::Going(s) | Presence::Present(s) => {
                    Poll::Pending(format!("{s}, delete requested"))
                }
            }),
            Err(e) if e.is_not_found() || classify(&e) == Some(Busy) => {
                Ok(Poll::Pending(format!("{state}: {e}")))
            }
            Err(e) => Err(e),
        }
    })
    .await
}

/// Out of time, the last AWS answer says more than the timeout does.
fn last_answer(err: Error, last: Option<Error>) -> Error {
    match (err, last) {
        (Error::WaitTimeout { .. }, Some(answer)) => answer,
        (err, _) => err,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{AwsFailure, FailureKind};

    fn answered(code: &str, message: &str) -> Error {
        Error::Aws {
            action: "testing",
            kind: "thing",
            name: "t".into(),
            failure: Box::new(AwsFailure {
                kind: FailureKind::Service,
                code: Some(code.into()),
                message: Some(message.into()),
                summary: format!("{code}: {message}"),
                source: format!("{code}: {message}").into(),
            }),
        }
    }

    #[test]
    fn each_aws_answer_means_what_its_rule_says() {
        let cases = [
            ("InvalidGroup.NotFound", "The security group 'sg-1' does not exist", Some(NotYetVisible)),
            (
                "ValidationError",
                "You must use a valid fully-formed launch template. Value (p) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
                Some(NotYetVisible),
            ),
            ("ValidationError", "Max bound, 5, must be greater than or equal to min bound, 6", None),
            (
                "InvalidParameterException",
                "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
                Some(NotYetVisible),
            ),
            ("InvalidParameterException", "Invalid subnet", None),
            ("DependencyViolation", "resource has a dependent object", Some(Busy)),
            ("InvalidReplicationGroupState", "The requested replication group is not in the available state.", Some(Busy)),
            ("ResourceInUseException", "The specified capacity provider is in use and cannot be removed.", Some(Busy)),
            ("ScalingActivityInProgress", "", Some(Busy)),
            ("AccessDenied", "User is not authorized", None),
        ];
        for (code, message, want) in cases {
            assert_eq!(
                classify(&answered(code, message)),
                want,
                "{code}: {message}"
            );
        }
    }
}
