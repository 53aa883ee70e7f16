//! Delivering one note to the CRM. Pure decisions about what to do next are made from the
//! note's stored state and the portal's answer; nothing here sleeps (the caller schedules).

use bitrix::{Client, RestError};
use serde_json::{json, Value};

use crate::store::{Note, NoteStore, StoreError, Target};

/// How long to wait before the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxPolicy {
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// How many of the entity's newest comments to look through for a lost send.
    pub reconcile_window: usize,
}

impl Default for OutboxPolicy {
    fn default() -> OutboxPolicy {
        OutboxPolicy {
            base_delay_ms: 2_000,
            max_delay_ms: 5 * 60_000,
            reconcile_window: 200,
        }
    }
}

impl OutboxPolicy {
    pub fn delay_ms(&self, attempts: u32) -> u64 {
        let factor = 1u64 << attempts.saturating_sub(1).min(20);
        self.base_delay_ms
            .saturating_mul(factor)
            .min(self.max_delay_ms)
    }
}

/// What one delivery attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A new comment.
    Added { comment_id: u64 },
    /// The portal had committed an earlier send whose answer was lost: that comment is the note's.
    Adopted { comment_id: u64 },
    /// The comment now has the edited text.
    Updated { comment_id: u64 },
    /// Not now; the note stays queued with the reason.
    Retry { code: String, at_ms: u64 },
    /// The CRM refused for good; the note stays, marked failed.
    Failed { code: String },
    /// Nothing to send (no record yet, or already sent).
    Skipped,
}

/// The marker that makes a comment findable as this note's.
pub fn marker(note_id: &str) -> String {
    format!("[cc:{note_id}]")
}

/// The comment as it goes to the CRM: the agent's text and the note's marker on its own line.
pub fn render_comment(text: &str, note_id: &str) -> String {
    format!("{}\n\n{}", text.trim_end(), marker(note_id))
}

fn text_of_comment(comment: &str, note_id: &str) -> String {
    comment.replace(&marker(note_id), "").trim_end().to_owned()
}

pub fn deliver(
    store: &NoteStore,
    client: &Client,
    note: &Note,
    now_ms: u64,
    policy: &OutboxPolicy,
) -> Result<Delivery, StoreError> {
    let Some(target) = note.target.clone() else {
        return Ok(Delivery::Skipped);
    };
    if note.comment_id.is_some() && note.sent_text.as_deref() == Some(note.text.as_str()) {
        return Ok(Delivery::Skipped);
    }
    let body = render_comment(&note.text, &note.id);
    if let Some(comment_id) = note.comment_id {
        // An edit: updating the same comment twice does no harm, so any failure just retries.
        store.begin_send(&note.id)?;
        let answer = client.call(
            "crm.timeline.comment.update",
            json!({ "id": comment_id, "fields": { "COMMENT": body } }),
        );
        return match answer {
            Ok(_) => {
                store.mark_sent(&note.id, comment_id, &note.text, now_ms)?;
                Ok(Delivery::Updated { comment_id })
            }
            Err(error) => settle(store, note, &error, false, now_ms, policy),
        };
    }
    if note.maybe_sent {
        match find_by_marker(client, &target, &note.id, policy.reconcile_window) {
            Ok(Some((comment_id, crm_text))) => {
                tracing::info!(note = %note.id, comment_id, "a lost send had reached the CRM; adopting it");
                store.mark_sent(&note.id, comment_id, &crm_text, now_ms)?;
                return Ok(Delivery::Adopted { comment_id });
            }
            Ok(None) => {}
            // Cannot tell yet: do not risk a duplicate, look again later.
            Err(error) => return settle(store, note, &error, true, now_ms, policy),
        }
    }
    store.begin_send(&note.id)?;
    let answer = client.call(
        "crm.timeline.comment.add",
        json!({ "fields": { "ENTITY_ID": target.id, "ENTITY_TYPE": target.kind, "COMMENT": body } }),
    );
    match answer.map(|r| {
        bitrix::models::de::number_of(&r.result)
            .map(|n| n as u64)
            .filter(|id| *id > 0)
    }) {
        Ok(Some(comment_id)) => {
            store.mark_sent(&note.id, comment_id, &note.text, now_ms)?;
            Ok(Delivery::Added { comment_id })
        }
        Ok(None) => settle(
            store,
            note,
            &RestError::BadResponse("the portal did not say the comment's id".into()),
            true,
            now_ms,
            policy,
        ),
        Err(error) => {
            let unknown = matches!(
                error,
                RestError::Transport {
                    request_sent: true,
                    ..
                } | RestError::Timeout { .. }
                    | RestError::Server { .. }
                    | RestError::BadResponse(_)
            );
            settle(store, note, &error, unknown, now_ms, policy)
        }
    }
}

/// Records a failed attempt: retry later, or fail for good when retrying cannot help.
fn settle(
    store: &NoteStore,
    note: &Note,
    error: &RestError,
    unknown: bool,
    now_ms: u64,
    policy: &OutboxPolicy,
) -> Result<Delivery, StoreError> {
    let code = error.code().to_owned();
    match error {
        RestError::NotFound { .. }
        | RestError::AccessDenied { .. }
        | RestError::BadRequest { .. }
        | RestError::MethodNotFound { .. } => {
            tracing::warn!(note = %note.id, code = %code, "the CRM refused a note; it is kept locally");
            store.mark_failed(&note.id, &code, &error.to_string())?;
            Ok(Delivery::Failed { code })
        }
        _ => {
            let at_ms = now_ms + policy.delay_ms(note.attempts + 1);
            tracing::info!(note = %note.id, code = %code, unknown, "a note will be sent again later");
            // `unknown` keeps the "maybe sent" mark for the next attempt to look first; a refusal
            // (rate limit, refused connection, expired sign-in) proves this send made nothing.
            store.mark_retry(&note.id, &code, &error.to_string(), at_ms, unknown)?;
            Ok(Delivery::Retry { code, at_ms })
        }
    }
}

/// The newest comments of the note's record, looked through for the note's marker.
fn find_by_marker(
    client: &Client,
    target: &Target,
    note_id: &str,
    window: usize,
) -> Result<Option<(u64, String)>, RestError> {
    let needle = marker(note_id);
    let params = json!({
        "filter": { "ENTITY_ID": target.id, "ENTITY_TYPE": target.kind },
        "select": ["ID", "COMMENT"],
        "order": { "ID": "DESC" },
    });
    for item in client
        .list("crm.timeline.comment.list", params)
        .take(window)
    {
        let item: Value = item?;
        let comment = item
            .get("COMMENT")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if comment.contains(&needle) {
            let id = item
                .get("ID")
                .and_then(bitrix::models::de::number_of)
                .map(|n| n as u64)
                .unwrap_or(0);
            return Ok(Some((id, text_of_comment(comment, note_id))));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        let p = OutboxPolicy {
            base_delay_ms: 1000,
            max_delay_ms: 8000,
            reconcile_window: 10,
        };
        assert_eq!(
            [1, 2, 3, 4, 5, 9].map(|a| p.delay_ms(a)),
            [1000, 2000, 4000, 8000, 8000, 8000]
        );
    }

    #[test]
    fn the_marker_is_added_and_read_back() {
        let body = render_comment("Перезвонить в 14:00  \n", "1a2b3c4d5e6f");
        assert_eq!(body, "Перезвонить в 14:00\n\n[cc:1a2b3c4d5e6f]");
        assert_eq!(
            text_of_comment(&body, "1a2b3c4d5e6f"),
            "Перезвонить в 14:00"
        );
    }
}
