//! Call notes. Every draft is in a local SQLite database (WAL, synchronous commits) before the
//! agent could lose it; "Save to CRM" moves it to a durable outbox that delivers it exactly once,
//! however the network, the portal or the app fail in between: as the note of the call's own
//! activity when the call card named one (`crm.timeline.note.save`, which replaces the activity's
//! note, so a repeated save cannot make a copy), otherwise as a timeline comment on the record.
//!
//! Exactly once: each note has a random id, written into the comment as a short marker
//! (`[cc:1a2b3c4d5e6f]`). A send whose outcome is unknown (the connection broke after the request
//! left) is never simply repeated: the next attempt first lists the entity's comments and adopts
//! the one carrying the marker, if the portal had committed it. Edits of a sent note update that
//! same comment (an update is idempotent). A note sent as a comment stays a comment when the
//! activity becomes known later; one on the activity is edited there.

mod blocking;
mod calls;
mod outbox;
mod store;

pub use calls::{SendAtEnd, StoredCall};
pub use outbox::{deliver, marker, render_comment, Delivery, OutboxPolicy};
pub use store::{body, Note, NoteState, NoteStore, StoreError, Target, Via};
