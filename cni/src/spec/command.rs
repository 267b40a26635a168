//! `CNI_COMMAND`.

use std::fmt;

/// The operation the runtime asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Attach the interface to the container.
    Add,
    /// Detach it; must succeed when repeated or when the container is gone.
    Del,
    /// Check that the attachment is still as ADD left it.
    Check,
    /// Print the versions this plugin speaks.
    Version,
    /// (1.1.0) Whether the plugin is ready to serve ADDs.
    Status,
    /// (1.1.0) Remove state of attachments the runtime no longer knows.
    Gc,
}

impl Command {
    /// Parses a `CNI_COMMAND` value (exact, upper case as the spec writes them).
    pub fn parse(value: &str) -> Option<Command> {
        Some(match value {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "VERSION" => Command::Version,
            "STATUS" => Command::Status,
            "GC" => Command::Gc,
            _ => return None,
        })
    }

    /// The `CNI_COMMAND` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Version => "VERSION",
            Command::Status => "STATUS",
            Command::Gc => "GC",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
