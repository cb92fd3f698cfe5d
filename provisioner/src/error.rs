//! The provisioner's error type. Every variant names the resource or input
//! that failed and why, in the "what happened: why" form.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::error::SdkError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action} {kind} {name}: {cause}")]
    Aws {
        action: &'static str,
        kind: &'static str,
        name: String,
        cause: String,
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
    #[error("reading profile {path}: {cause}")]
    Profile { path: PathBuf, cause: String },
    #[error("invalid profile {path}: {cause}")]
    InvalidProfile { path: PathBuf, cause: String },
    #[error("planning: {0}")]
    Plan(String),
    #[error("{failed} of the planned changes failed; first: {first}")]
    Apply { failed: usize, first: Box<Error> },
}

impl Error {
    /// Wraps an SDK error with the action and resource it concerned, keeping
    /// AWS's error code and message (the part a person can act on).
    pub fn aws<E>(action: &'static str, kind: &'static str, name: &str, err: SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        Error::Aws {
            action,
            kind,
            name: name.to_string(),
            cause: aws_cause(&err),
        }
    }

    pub fn unexpected(kind: &'static str, name: &str, what: impl Into<String>) -> Self {
        Error::Unexpected {
            kind,
            name: name.to_string(),
            what: what.into(),
        }
    }
}

/// The AWS error code and message when the service sent one, else the whole
/// chain of causes (connection refused, timeouts, ...).
pub fn aws_cause<E>(err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        _ => aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
    }
}

/// The AWS error code of an SDK error, when the service sent one.
pub fn aws_code<E>(err: &SdkError<E>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.code()
}

/// True for AWS's "does not exist" answers, in each service's spelling
/// (`InvalidVpcID.NotFound`, `LoadBalancerNotFound`, `CacheSubnetGroupNotFoundFault`,
/// `ClusterNotFoundException`, IAM's `NoSuchEntity`): NotFound is a value, not an error.
pub fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.code().is_some_and(|c| {
        c.ends_with("NotFound")
            || c.ends_with("NotFoundFault")
            || c.ends_with("NotFoundException")
            || c == "NoSuchEntity"
    })
}

/// Ignores "not found": deleting what is gone is success.
pub fn gone_ok<T, E>(
    result: Result<T, SdkError<E>>,
    action: &'static str,
    kind: &'static str,
    name: &str,
) -> Result<(), Error>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(Error::aws(action, kind, name, e)),
    }
}

#[cfg(test)]
mod not_found_tests {
    use super::is_not_found;
    use aws_sdk_ec2::error::SdkError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn answered(code: &str) -> SdkError<ErrorMetadata, Response> {
        let raw = Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        SdkError::service_error(ErrorMetadata::builder().code(code).build(), raw)
    }

    #[test]
    fn every_services_spelling_of_not_found_and_nothing_else() {
        for code in [
            "InvalidVpcID.NotFound",
            "LoadBalancerNotFound",
            "CacheSubnetGroupNotFoundFault",
            "ClusterNotFoundException",
            "ParameterNotFound",
            "NoSuchEntity",
        ] {
            assert!(is_not_found(&answered(code)), "{code}");
        }
        for code in [
            "CacheSubnetGroupInUse",
            "DependencyViolation",
            "NotFoundButSomethingElse",
            "ValidationError",
        ] {
            assert!(!is_not_found(&answered(code)), "{code}");
        }
    }
}
