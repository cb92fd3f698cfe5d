//! What a command prints: its data as JSON with `--json`, as text
//! otherwise, on stdout; and its exit code.

use crate::Error;
use serde::Serialize;
use std::fmt::Display;

#[derive(Debug)]
pub struct Outcome {
    pub json: serde_json::Value,
    pub text: String,
    pub code: u8,
}

impl Outcome {
    /// `data` as both JSON and text, with an exit code.
    pub fn of<T: Serialize + Display>(data: &T, code: u8) -> Result<Outcome, Error> {
        Ok(Outcome {
            json: serde_json::to_value(data)
                .map_err(|e| Error::Usage(format!("writing JSON: {e}")))?,
            text: data.to_string(),
            code,
        })
    }

    /// The text a person reads, or the JSON a program does.
    pub fn render(&self, json: bool) -> String {
        if json {
            serde_json::to_string_pretty(&self.json).unwrap_or_else(|_| self.json.to_string())
        } else {
            self.text.clone()
        }
    }
}
