//! This node's id, as leases and other nodes name it: `NODE_ID` when set;
//! on ECS the task id, from the task metadata endpoint
//! (`${ECS_CONTAINER_METADATA_URI_V4}/task`, whose `TaskARN` ends in the
//! task id: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-response.html);
//! otherwise the host name and the process id.

use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The metadata endpoint answers locally; a node does not wait long for it.
const METADATA_LIMIT: Duration = Duration::from_secs(2);
/// A task's metadata is a few kilobytes.
const METADATA_MAX_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Error)]
pub enum MetadataError {
    #[error("ECS_CONTAINER_METADATA_URI_V4 {0:?} is not an http:// URL")]
    BadUri(String),
    #[error("reading the task metadata failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the task metadata endpoint did not answer within {METADATA_LIMIT:?}")]
    Timeout,
    #[error("the task metadata endpoint answered {0}")]
    Status(String),
    #[error("the task metadata has no usable TaskARN: {0}")]
    Body(String),
}

/// The id this node goes by.
pub async fn resolve(configured: Option<String>) -> String {
    if let Some(id) = configured {
        return id;
    }
    if let Ok(uri) = std::env::var("ECS_CONTAINER_METADATA_URI_V4") {
        match ecs_task_id(&uri).await {
            Ok(id) => return id,
            Err(e) => {
                tracing::warn!(error = %e, "no ECS task id; naming this node by host and pid")
            }
        }
    }
    format!("{}-{}", hostname(), std::process::id())
}

/// The task id of the ECS task this container runs in.
pub async fn ecs_task_id(uri: &str) -> Result<String, MetadataError> {
    let body = tokio::time::timeout(METADATA_LIMIT, get(&format!("{uri}/task")))
        .await
        .map_err(|_| MetadataError::Timeout)??;
    task_id(&body)
}

/// The last segment of the metadata's `TaskARN`.
fn task_id(body: &str) -> Result<String, MetadataError> {
    #[derive(Deserialize)]
    struct Task {
        #[serde(rename = "TaskARN")]
        task_arn: String,
    }
    let task: Task = serde_json::from_str(body).map_err(|e| MetadataError::Body(e.to_string()))?;
    task.task_arn
        .rsplit('/')
        .next()
        .filter(|id| valid(id))
        .map(str::to_string)
        .ok_or(MetadataError::Body(task.task_arn))
}

/// Whether `id` can name a node: 1 to 64 of `[A-Za-z0-9._-]`.
pub fn valid(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A plain HTTP/1.0 GET (the endpoint is local and unencrypted; 1.0 keeps
/// the answer unchunked), returning the body of a 200.
async fn get(url: &str) -> Result<String, MetadataError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| MetadataError::BadUri(url.to_string()))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let address = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut stream = TcpStream::connect(address).await?;
    let path = if path.is_empty() { "/" } else { path };
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").as_bytes())
        .await?;
    let mut raw = Vec::new();
    stream
        .take(METADATA_MAX_BYTES)
        .read_to_end(&mut raw)
        .await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| MetadataError::Status("no complete answer".into()))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(MetadataError::Status(status.to_string()));
    }
    Ok(body.to_string())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| valid(h) && h.len() <= 40)
        .unwrap_or_else(|| "node".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Shaped as AWS's documented example answer, trimmed.
    const TASK: &str = r#"{"Cluster":"default","TaskARN":"arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c","Family":"curltest","Containers":[]}"#;

    #[tokio::test]
    async fn the_task_id_comes_from_the_metadata_endpoint() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 1024];
            let n = socket.read(&mut request).await.unwrap();
            let request = String::from_utf8_lossy(&request[..n]).to_string();
            let answer = format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{TASK}");
            socket.write_all(answer.as_bytes()).await.unwrap();
            request
        });
        let id = ecs_task_id(&format!("http://{addr}/v4/abc-123"))
            .await
            .unwrap();
        assert_eq!(id, "158d1c8083dd49d6b527399fd6414f5c");
        let request = server.await.unwrap();
        assert!(
            request.starts_with("GET /v4/abc-123/task HTTP/1.0\r\n"),
            "{request}"
        );
    }

    #[test]
    fn a_metadata_body_without_a_usable_arn_is_an_error() {
        assert!(task_id(r#"{"Cluster":"x"}"#).is_err());
        assert!(task_id(r#"{"TaskARN":"arn:aws:ecs:r:1:task/c/bad id"}"#).is_err());
        assert!(task_id("not json").is_err());
    }

    #[tokio::test]
    async fn without_ecs_a_node_is_named_by_host_and_pid() {
        let id = resolve(None).await;
        assert!(id.ends_with(&format!("-{}", std::process::id())), "{id}");
        assert!(valid(&id), "{id}");
        assert_eq!(resolve(Some("given".into())).await, "given");
    }
}
