//! A Redis URL as it may be logged: the password (and any query, which can
//! carry credentials too) replaced, user name and host kept for diagnosis.

pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        // Not a URL we can take apart safely: show nothing of it.
        return "<unparseable redis url>".to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.rfind('@') {
        Some(at) => {
            let user = authority[..at].split_once(':').map_or("", |(user, _)| user);
            format!("{user}:***@{}", &authority[at + 1..])
        }
        None => authority.to_string(),
    };
    let tail = match tail.find('?') {
        Some(q) => format!("{}?***", &tail[..q]),
        None => tail.to_string(),
    };
    format!("{scheme}{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn hides_passwords_and_queries_keeps_hosts() {
        let cases = [
            ("redis://localhost:6379", "redis://localhost:6379"),
            ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
            (
                "rediss://app:p%40ss@h.example:6380",
                "rediss://app:***@h.example:6380",
            ),
            ("redis://onlysecret@h", "redis://:***@h"),
            ("redis://h:1/2?password=x", "redis://h:1/2?***"),
            ("redis://a:b@c@host", "redis://a:***@host"),
            ("not a url s3cret", "<unparseable redis url>"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
            assert!(!redact_url(url).contains("s3cret"));
        }
    }
}
