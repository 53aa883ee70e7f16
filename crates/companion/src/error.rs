//! Errors as the UI sees them: a stable [`ErrorCode`] the window branches on and words its
//! message by (in the agent's language), the parameters that message names, and the English
//! `message` with the details, shown beside it and written to the log. Library errors convert
//! into this at the command boundary.

use std::collections::BTreeMap;

pub use codes::ErrorCode;
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Display(#[from] crate::display::DisplayError),
    #[error("cannot prepare the folder {path}: {source}")]
    Folder {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A folder of the app's that is a link or another user's: written into, it would hand the
    /// agent's data to whoever made it.
    #[error("refusing the folder {path}: {reason}")]
    NotOwnFolder {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("invalid log filter {filter:?}: {reason}")]
    LogFilter { filter: String, reason: String },
}

impl Error {
    /// Stable, machine-readable code; never change one that has shipped.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Display(_) => ErrorCode::NoDisplay,
            Error::Folder { .. } => ErrorCode::FolderUnavailable,
            Error::NotOwnFolder { .. } => ErrorCode::FolderNotOwn,
            Error::LogFilter { .. } => ErrorCode::InvalidLogFilter,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.code(), self.to_string())
    }
}

/// What a failed command returns to the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// The details in English, for the log and for whoever the agent asks for help.
    pub message: String,
    /// Values the window's own message for the code names (`{setting}`, `{port}`, ...).
    pub params: BTreeMap<String, String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code,
            message: message.into(),
            params: BTreeMap::new(),
        }
    }

    /// Adds a value the window's message names.
    pub fn with(mut self, name: &str, value: impl ToString) -> ErrorBody {
        self.params.insert(name.to_owned(), value.to_string());
        self
    }
}

impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.body().serialize(serializer)
    }
}
