//! Delivering one note to the CRM. Pure decisions about what to do next are made from the
//! note's stored state and the portal's answer; nothing here sleeps (the caller schedules).

use bitrix::{Client, RestError};
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::blocking::Disk;
use crate::store::{Note, NoteStore, StoreError, Target, Via};

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
    /// The call's activity holds the note (first saved or edited: a save replaces its note).
    OnActivity { activity_id: u64 },
    /// Not now; the note stays queued with the reason.
    Retry { code: codes::ErrorCode, at_ms: u64 },
    /// The CRM refused for good; the note stays, marked failed.
    Failed { code: codes::ErrorCode },
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

pub async fn deliver(
    store: &NoteStore,
    client: &Client,
    note: &Note,
    now_ms: u64,
    policy: &OutboxPolicy,
) -> Result<Delivery, StoreError> {
    let Some(target) = note.target.clone() else {
        return Ok(Delivery::Skipped);
    };
    // What the CRM is to hold: the outcome and the text (`Note::body`).
    let held = note.body();
    if note.sent_ms.is_some() && note.sent_text.as_deref() == Some(held.as_str()) {
        return Ok(Delivery::Skipped);
    }
    let body = render_comment(&held, &note.id);
    if let Some(comment_id) = note.comment_id {
        // An edit: updating the same comment twice does no harm, so any failure just retries.
        Disk(store).begin_send(&note.id, Via::Comment).await?;
        let answer = client
            .call(
                "crm.timeline.comment.update",
                json!({ "id": comment_id, "fields": { "COMMENT": body } }),
            )
            .await;
        return match answer {
            // The docs show the comment's id, Bitrix's server code answers `true`: either will do.
            Ok(_) => {
                Disk(store)
                    .mark_sent(&note.id, comment_id, &held, now_ms)
                    .await?;
                Ok(Delivery::Updated { comment_id })
            }
            Err(error) => settle(store, note, &error, false, now_ms, policy).await,
        };
    }
    // A note the call's activity holds is edited there; a note not yet in the CRM goes to the
    // activity when the call has one. Either way, when the activity cannot take it (gone, not
    // this record's, another's note already on it, a portal without the method) it becomes a
    // comment, in this same attempt.
    let on_activity = note.via == Some(Via::Activity) && note.sent_ms.is_some();
    if on_activity {
        if let Some(delivery) =
            to_activity(store, client, note, &target, &body, now_ms, policy).await?
        {
            return Ok(delivery);
        }
    }
    if note.maybe_sent && note.via != Some(Via::Activity) {
        match find_by_marker(client, &target, &note.id, policy.reconcile_window).await {
            Ok(Some((comment_id, crm_text))) => {
                tracing::info!(note = %note.id, comment_id, "a lost send had reached the CRM; adopting it");
                Disk(store)
                    .mark_sent(&note.id, comment_id, &crm_text, now_ms)
                    .await?;
                return Ok(Delivery::Adopted { comment_id });
            }
            Ok(None) => {}
            // Cannot tell yet: do not risk a duplicate, look again later.
            Err(error) => return settle(store, note, &error, true, now_ms, policy).await,
        }
    }
    if !on_activity && note.activity_id.is_some() {
        if let Some(delivery) =
            to_activity(store, client, note, &target, &body, now_ms, policy).await?
        {
            return Ok(delivery);
        }
    }
    Disk(store).begin_send(&note.id, Via::Comment).await?;
    let answer = client.call(
        "crm.timeline.comment.add",
        json!({ "fields": { "ENTITY_ID": target.id, "ENTITY_TYPE": target.kind, "COMMENT": body } }),
    ).await;
    match answer.map(|r| {
        bitrix::models::de::number_of(&r.result)
            .map(|n| n as u64)
            .filter(|id| *id > 0)
    }) {
        Ok(Some(comment_id)) => {
            Disk(store)
                .mark_sent(&note.id, comment_id, &held, now_ms)
                .await?;
            Ok(Delivery::Added { comment_id })
        }
        Ok(None) => {
            settle(
                store,
                note,
                &RestError::BadResponse("the portal did not say the comment's id".into()),
                true,
                now_ms,
                policy,
            )
            .await
        }
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
            settle(store, note, &error, unknown, now_ms, policy).await
        }
    }
}

/// The CRM object type id of a record kind (`crm/data-types.md`).
fn owner_type_id(kind: &str) -> Option<u64> {
    match kind {
        "lead" => Some(1),
        "deal" => Some(2),
        "contact" => Some(3),
        "company" => Some(4),
        _ => None,
    }
}

/// Saves the note on the call's activity (`crm.timeline.note.save`, `itemType` 2, owned by the
/// note's record; `api-reference/crm/timeline/note/`). Saving replaces the activity's note, so a
/// save whose answer was lost is simply saved again: no marker search is needed. `Ok(None)` when
/// the activity cannot take the note and it should be a comment instead:
///
/// - the activity already has a note that is not this one (no marker): someone wrote it (a
///   colleague, a transcript, another app) and a save would replace their text, so it is left
///   alone. `crm.timeline.note.get` is asked first; what it cannot close is a note written
///   between that read and the save (the API has no compare-and-set);
/// - `NOT_FOUND` from the save: the activity is gone or is not this record's;
/// - `ERROR_METHOD_NOT_FOUND`: a portal without the method.
async fn to_activity(
    store: &NoteStore,
    client: &Client,
    note: &Note,
    target: &Target,
    body: &str,
    now_ms: u64,
    policy: &OutboxPolicy,
) -> Result<Option<Delivery>, StoreError> {
    let (Some(activity_id), Some(owner_type)) = (note.activity_id, owner_type_id(&target.kind))
    else {
        return Ok(None);
    };
    let item = json!({
        "ownerTypeId": owner_type, "ownerId": target.id, "itemType": 2, "itemId": activity_id,
    });
    match client.call("crm.timeline.note.get", item.clone()).await {
        Ok(answer) => {
            let held = answer
                .result
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !held.trim().is_empty() && !held.contains(&marker(&note.id)) {
                tracing::info!(note = %note.id, activity_id, "the call's activity has another note; this one goes as a comment");
                return Ok(None);
            }
        }
        // No note on it yet (*unverified*: what the portal answers then; a null result, or an
        // item that is gone, for which the save below answers the same).
        Err(RestError::NotFound { .. }) => {}
        Err(RestError::MethodNotFound { .. }) => return Ok(None),
        // A read changes nothing: the "maybe sent" mark stays as it was.
        Err(error) => {
            return settle(store, note, &error, true, now_ms, policy)
                .await
                .map(Some)
        }
    }
    Disk(store).begin_send(&note.id, Via::Activity).await?;
    let mut params = item;
    params["text"] = Value::String(body.to_owned());
    match client.call("crm.timeline.note.save", params).await {
        Ok(answer) if answer.result.as_bool() != Some(false) && !answer.result.is_null() => {
            Disk(store)
                .mark_sent_on_activity(&note.id, &note.body(), now_ms)
                .await?;
            Ok(Some(Delivery::OnActivity { activity_id }))
        }
        Ok(_) => settle(
            store,
            note,
            &RestError::BadResponse("the portal did not say the note was saved".into()),
            true,
            now_ms,
            policy,
        )
        .await
        .map(Some),
        Err(RestError::NotFound { .. } | RestError::MethodNotFound { .. }) => Ok(None),
        Err(error) => {
            // Nothing to reconcile (a save replaces), but an uncertain save keeps the note where
            // it is: its record and activity may not change under it.
            let unknown = note.maybe_sent
                || matches!(
                    error,
                    RestError::Transport {
                        request_sent: true,
                        ..
                    } | RestError::Timeout { .. }
                        | RestError::Server { .. }
                        | RestError::BadResponse(_)
                );
            settle(store, note, &error, unknown, now_ms, policy)
                .await
                .map(Some)
        }
    }
}

/// Records a failed attempt: retry later, or fail for good when retrying cannot help.
async fn settle(
    store: &NoteStore,
    note: &Note,
    error: &RestError,
    unknown: bool,
    now_ms: u64,
    policy: &OutboxPolicy,
) -> Result<Delivery, StoreError> {
    let code = error.code();
    match error {
        RestError::NotFound { .. }
        | RestError::AccessDenied { .. }
        | RestError::BadRequest { .. }
        | RestError::MethodNotFound { .. } => {
            tracing::warn!(note = %note.id, code = %code, "the CRM refused a note; it is kept locally");
            Disk(store)
                .mark_failed(&note.id, code, error.to_string())
                .await?;
            Ok(Delivery::Failed { code })
        }
        _ => {
            let mut at_ms = now_ms + policy.delay_ms(note.attempts + 1);
            // Bitrix24 paused the method for the app (`OPERATION_TIME_LIMIT`, `limits.md`):
            // nothing is sent before the pause ends, and the window says until when.
            if let RestError::OperationTimeLimit {
                until: Some(until), ..
            } = error
            {
                at_ms = at_ms.max(until.saturating_mul(1000));
            }
            tracing::info!(note = %note.id, code = %code, unknown, "a note will be sent again later");
            // `unknown` keeps the "maybe sent" mark for the next attempt to look first; a refusal
            // (rate limit, refused connection, expired sign-in) proves this send made nothing.
            Disk(store)
                .mark_retry(&note.id, code, error.to_string(), at_ms, unknown)
                .await?;
            Ok(Delivery::Retry { code, at_ms })
        }
    }
}

/// The newest comments of the note's record, looked through for the note's marker.
async fn find_by_marker(
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
    let mut items = client
        .list("crm.timeline.comment.list", params)
        .take(window);
    while let Some(item) = items.next().await {
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
