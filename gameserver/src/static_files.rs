//! The browser client, embedded in the binary: one table of the files in
//! `gameserver/static/`, each served at its path with its content type. The
//! client is native ES modules, so what is in the table is what the browser
//! runs; there is no build step.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub struct StaticFile {
    /// The URL path it is served at.
    pub url: &'static str,
    /// Its path under `gameserver/static/`.
    pub file: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
/// Browsers refuse to run a module served with any other type.
const JS: &str = "text/javascript; charset=utf-8";

macro_rules! embed {
    ($url:expr, $file:literal, $type:expr) => {
        StaticFile {
            url: $url,
            file: $file,
            content_type: $type,
            body: include_str!(concat!("../static/", $file)),
        }
    };
    ($file:literal, $type:expr) => {
        embed!(concat!("/", $file), $file, $type)
    };
}

pub const FILES: &[StaticFile] = &[
    embed!("/", "index.html", HTML),
    embed!("style.css", CSS),
    embed!("js/main.js", JS),
    embed!("js/protocol.js", JS),
    embed!("js/physics.js", JS),
    embed!("js/clock.js", JS),
    embed!("js/world.js", JS),
    embed!("js/prediction.js", JS),
    embed!("js/connection.js", JS),
    embed!("js/input.js", JS),
    embed!("js/game.js", JS),
    embed!("js/scores.js", JS),
    embed!("js/render.js", JS),
    embed!("js/sprites.js", JS),
    embed!("js/minimap.js", JS),
    embed!("js/effects.js", JS),
    embed!("js/hud.js", JS),
    embed!("js/killfeed.js", JS),
    embed!("js/audio.js", JS),
    embed!("js/lobby.js", JS),
    embed!("js/debug.js", JS),
];

/// One GET route per file of the table.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    FILES.iter().fold(Router::new(), |router, file| {
        router.route(file.url, get(move || async move { file.response() }))
    })
}

impl StaticFile {
    fn response(&self) -> Response {
        let mut response = self.body.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        // Revalidated every time: a new server must never run with an older module.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// "About 400 lines" per module, so each stays readable on its own.
    const MAX_MODULE_LINES: usize = 400;

    fn files_on_disk(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("reading gameserver/static") {
            let entry = entry.expect("a directory entry");
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.path().is_dir() {
                files_on_disk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.insert(name);
            }
        }
    }

    #[test]
    fn the_table_holds_every_file_of_the_static_directory_once() {
        let mut on_disk = BTreeSet::new();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        files_on_disk(&dir, "", &mut on_disk);
        let in_table: Vec<&str> = FILES.iter().map(|f| f.file).collect();
        let unique: BTreeSet<String> = in_table.iter().map(|f| f.to_string()).collect();
        assert_eq!(unique.len(), in_table.len(), "a file twice: {in_table:?}");
        assert_eq!(unique, on_disk, "the table and gameserver/static differ");
        let urls: BTreeSet<&str> = FILES.iter().map(|f| f.url).collect();
        assert_eq!(urls.len(), FILES.len(), "two files at one URL");
    }

    #[test]
    fn every_module_import_is_served_and_no_module_is_long() {
        let served: BTreeSet<&str> = FILES.iter().map(|f| f.url).collect();
        let modules = FILES.iter().filter(|f| f.content_type == JS);
        for module in modules {
            let lines = module.body.lines().count();
            assert!(
                lines <= MAX_MODULE_LINES,
                "{} has {lines} lines, more than {MAX_MODULE_LINES}",
                module.file
            );
            for line in module.body.lines() {
                let Some((_, from)) = line.split_once(" from './") else {
                    continue;
                };
                let target = from.trim_end_matches(['\'', ';']);
                let url = format!("/js/{target}");
                assert!(
                    served.contains(url.as_str()),
                    "{} imports {url}, which is not served",
                    module.file
                );
            }
        }
        let index = FILES.iter().find(|f| f.url == "/").expect("an index");
        for url in ["/style.css", "/js/main.js"] {
            assert!(
                index.body.contains(&format!("\"{url}\"")),
                "index.html loads {url}"
            );
        }
    }
}
