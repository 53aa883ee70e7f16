//! Call notes. Every draft is in a local SQLite database (WAL, synchronous commits) before the
//! agent could lose it; "Save to CRM" moves it to a durable outbox that sends it as a timeline
//! comment exactly once, however the network, the portal or the app fail in between.
//!
//! Exactly once: each note has a random id, written into the comment as a short marker
//! (`[cc:1a2b3c4d5e6f]`). A send whose outcome is unknown (the connection broke after the request
//! left) is never simply repeated: the next attempt first lists the entity's comments and adopts
//! the one carrying the marker, if the portal had committed it. Edits of a sent note update that
//! same comment (an update is idempotent).

mod outbox;
mod store;

pub use outbox::{deliver, marker, render_comment, Delivery, OutboxPolicy};
pub use store::{Note, NoteState, NoteStore, StoreError, Target};
