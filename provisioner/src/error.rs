//! The provisioner's error type. Every variant names the resource or input
//! that failed and why, in the "what happened: why" form; AWS failures keep
//! the service's error code, its message and the SDK error as their source.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::error::SdkError;
use std::path::PathBuf;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action} {kind} {name}: {failure}")]
    Aws {
        action: &'static str,
        kind: &'static str,
        name: String,
        #[source]
        failure: Box<AwsFailure>,
    },
    #[error("{kind} {name}: {what}")]
    Unexpected {
        kind: &'static str,
        name: String,
        what: String,
    },
    #[error("timed out after {waited_secs}s waiting for {kind} {name} to be {target} (last state: {last})")]
    WaitTimeout {
        kind: &'static str,
        name: String,
        target: &'static str,
        waited_secs: u64,
        last: String,
    },
    #[error(
        "{kind} {name} still differs from the profile {waited_secs}s after the change: {left}"
    )]
    NotConverged {
        kind: &'static str,
        name: String,
        waited_secs: u64,
        left: String,
    },
    #[error("region {region} offers {have} availability zones but the profile needs {need}")]
    TooFewZones {
        region: String,
        have: usize,
        need: usize,
    },
    #[error("environment {environment} is locked by {holder} since {since}; waited {waited_secs}s (--lock-timeout)")]
    Locked {
        environment: String,
        holder: String,
        since: String,
        waited_secs: u64,
    },
    #[error(
        "lost the lock of environment {environment} to {holder}: stopped before changing more"
    )]
    LockLost { environment: String, holder: String },
    #[error("reading profile {path}: {cause}")]
    Profile { path: PathBuf, cause: String },
    #[error("invalid profile {path}: {cause}")]
    InvalidProfile { path: PathBuf, cause: String },
    #[error("planning: {0}")]
    Plan(String),
    /// The command line asks for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Cost(#[from] crate::cost::CostError),
    #[error("{failed} of the planned changes failed; first: {first}")]
    Apply { failed: usize, first: Box<Error> },
}

/// Why an AWS call failed: the service's answer, or why there was none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The service answered with an error code.
    Service,
    /// The SDK found no credentials anywhere in its chain.
    NoCredentials,
    /// Credentials were configured but could not be loaded.
    Credentials,
    /// Nothing answered at the endpoint (refused, unresolvable, reset).
    Unreachable,
    /// The endpoint did not answer in time.
    Timeout,
    Other,
}

/// An AWS call that failed: the code and message AWS sent (when it sent
/// one), a one-line summary, and the SDK error as the source.
#[derive(Debug, thiserror::Error)]
#[error("{summary}")]
pub struct AwsFailure {
    pub kind: FailureKind,
    pub code: Option<String>,
    pub message: Option<String>,
    pub summary: String,
    #[source]
    pub source: BoxError,
}

impl AwsFailure {
    pub fn from_sdk<E, R>(err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_string);
        let message = err.message().map(str::to_string);
        let kind = match &err {
            SdkError::ServiceError(_) => FailureKind::Service,
            SdkError::TimeoutError(_) => FailureKind::Timeout,
            SdkError::DispatchFailure(d) if d.is_timeout() => FailureKind::Timeout,
            _ => transport_kind(&err),
        };
        let summary = match (&code, &message) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            _ => chain(&err),
        };
        AwsFailure {
            kind,
            code,
            message,
            summary,
            source: Box::new(err),
        }
    }
}

/// What a failure without a service answer was, read off its causes.
fn transport_kind(err: &(dyn std::error::Error + 'static)) -> FailureKind {
    use aws_credential_types::provider::error::CredentialsError;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return match c {
                CredentialsError::CredentialsNotLoaded(_) => FailureKind::NoCredentials,
                _ => FailureKind::Credentials,
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::TimedOut => FailureKind::Timeout,
                _ => FailureKind::Unreachable,
            };
        }
        cause = e.source();
    }
    let text = chain(err);
    if text.contains("dns error") || text.contains("Connect") {
        FailureKind::Unreachable
    } else {
        FailureKind::Other
    }
}

/// The messages of an error and its causes on one line, without the
/// `Debug` dumps the SDK's own formatting adds.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = e.source();
    }
    parts.join(": ")
}

impl Error {
    /// Wraps an SDK error with the action and resource it concerned, keeping
    /// AWS's error code, its message and the error itself.
    pub fn aws<E, R>(
        action: &'static str,
        kind: &'static str,
        name: &str,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        Error::Aws {
            action,
            kind,
            name: name.to_string(),
            failure: Box::new(AwsFailure::from_sdk(err)),
        }
    }

    pub fn unexpected(kind: &'static str, name: &str, what: impl Into<String>) -> Self {
        Error::Unexpected {
            kind,
            name: name.to_string(),
            what: what.into(),
        }
    }

    /// The AWS failure behind this error, if it is one.
    pub fn aws_failure(&self) -> Option<&AwsFailure> {
        match self {
            Error::Aws { failure, .. } => Some(failure),
            Error::Apply { first, .. } => first.aws_failure(),
            _ => None,
        }
    }

    /// The AWS error code, when AWS sent one.
    pub fn code(&self) -> Option<&str> {
        self.aws_failure().and_then(|f| f.code.as_deref())
    }

    /// The AWS error message, when AWS sent one.
    pub fn message(&self) -> Option<&str> {
        self.aws_failure().and_then(|f| f.message.as_deref())
    }

    /// True for AWS's "does not exist" answers: NotFound is a value.
    pub fn is_not_found(&self) -> bool {
        self.code()
            .is_some_and(|c| is_not_found(c, self.message().unwrap_or_default()))
    }
}

/// True for AWS's "does not exist" answers, in each service's spelling:
/// `InvalidVpcID.NotFound`, `LoadBalancerNotFound`,
/// `CacheSubnetGroupNotFoundFault`, `ClusterNotFoundException`, IAM's
/// `NoSuchEntity`, and the generic codes whose message says so (Auto
/// Scaling's `ValidationError: AutoScalingGroup name not found - ...`, see
/// terraform-provider-aws internal/service/autoscaling/group.go, which
/// treats that code with "not found" as gone; ECS's `ClientException:
/// Unable to describe task definition.` for an unknown family; EC2's
/// `Gateway.NotAttached` for an attachment already gone).
pub fn is_not_found(code: &str, message: &str) -> bool {
    code.ends_with("NotFound")
        || code == "Gateway.NotAttached"
        || code.ends_with("NotFoundFault")
        || code.ends_with("NotFoundException")
        || code == "NoSuchEntity"
        || (code == "ValidationError" && message.contains("not found"))
        || (code == "ClientException"
            && (message.contains("Unable to describe task definition")
                || message.contains("does not exist")))
}

/// Ignores "not found": deleting what is gone is success.
pub fn gone_ok(result: Result<(), Error>) -> Result<(), Error> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// `None` for "not found", so that finding something returns an `Option`.
pub fn found<T>(result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_services_spelling_of_not_found_and_nothing_else() {
        for (code, message) in [
            ("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist"),
            ("LoadBalancerNotFound", ""),
            ("CacheSubnetGroupNotFoundFault", ""),
            ("ClusterNotFoundException", "Cluster not found."),
            ("ParameterNotFound", ""),
            ("NoSuchEntity", ""),
            (
                "ValidationError",
                "AutoScalingGroup name not found - AutoScalingGroup x not found",
            ),
            ("ClientException", "Unable to describe task definition."),
        ] {
            assert!(is_not_found(code, message), "{code}");
        }
        for (code, message) in [
            ("CacheSubnetGroupInUse", ""),
            ("DependencyViolation", ""),
            ("NotFoundButSomethingElse", ""),
            ("ValidationError", "Invalid IAM Instance Profile name"),
            (
                "ClientException",
                "The specified capacity provider is in use",
            ),
        ] {
            assert!(!is_not_found(code, message), "{code}");
        }
    }

    #[test]
    fn a_chain_reads_as_one_line_without_debug_output() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let outer = Error::unexpected("vpc", "v", format!("connecting: {io}"));
        assert_eq!(chain(&outer), "vpc v: connecting: Connection refused");
    }
}
