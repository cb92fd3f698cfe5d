//! Asking a person before a change that deletes: on the terminal, or, in
//! tests, from a script of answers.

use crate::Error;
use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Write};

pub trait Prompter: Send {
    /// Asks `question`; `None` when there is no one to ask.
    fn ask(&mut self, question: &str) -> Result<Option<String>, Error>;
}

/// Asks on stderr and reads the answer from stdin, when both are a terminal.
pub struct Terminal;

impl Prompter for Terminal {
    fn ask(&mut self, question: &str) -> Result<Option<String>, Error> {
        if !std::io::stdin().is_terminal() {
            return Ok(None);
        }
        eprint!("{question}");
        std::io::stderr().flush().ok();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::Usage(format!("reading the answer: {e}")))?;
        Ok(Some(line.trim().to_string()))
    }
}

/// Answers from a list, in order; `None` once it is used up (no terminal).
#[derive(Debug, Default)]
pub struct Scripted {
    answers: VecDeque<String>,
    pub questions: Vec<String>,
}

impl Scripted {
    pub fn new<S: Into<String>>(answers: impl IntoIterator<Item = S>) -> Self {
        Scripted {
            answers: answers.into_iter().map(Into::into).collect(),
            questions: Vec::new(),
        }
    }
}

impl Prompter for Scripted {
    fn ask(&mut self, question: &str) -> Result<Option<String>, Error> {
        self.questions.push(question.to_string());
        Ok(self.answers.pop_front())
    }
}

/// Asks for `expected` typed back; refuses without an answer or with
/// another one, naming `--yes` as the way to skip the question.
pub fn confirm(
    prompter: &mut dyn Prompter,
    what: &str,
    question: &str,
    expected: &str,
) -> Result<(), Error> {
    match prompter.ask(question)? {
        None => Err(Error::Usage(format!(
            "{what} needs confirmation: no terminal to ask on; pass --yes"
        ))),
        Some(answer) if answer == expected => Ok(()),
        Some(_) => Err(Error::Usage(format!(
            "{what} cancelled: the answer was not {expected:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_expected_answer_confirms() {
        let mut p = Scripted::new(["dev", "prod"]);
        confirm(&mut p, "down", "Type dev: ", "dev").unwrap();
        let err = confirm(&mut p, "down", "Type dev: ", "dev").unwrap_err();
        assert!(err.to_string().contains("cancelled"), "{err}");
        let err = confirm(&mut p, "down", "Type dev: ", "dev").unwrap_err();
        assert!(err.to_string().contains("--yes"), "{err}");
        assert_eq!(p.questions.len(), 3);
    }
}
