//! Errors as the UI sees them: a stable `code` the frontend branches on, and a `message` for
//! people. Library errors convert into this at the command boundary.

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
    #[error("invalid log filter {filter:?}: {reason}")]
    LogFilter { filter: String, reason: String },
}

impl Error {
    /// Stable, machine-readable code; never change one that has shipped.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Display(_) => "no_display",
            Error::Folder { .. } => "folder_unavailable",
            Error::LogFilter { .. } => "invalid_log_filter",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}

/// What a failed command returns to the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.body().serialize(serializer)
    }
}
