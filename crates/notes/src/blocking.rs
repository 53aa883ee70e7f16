//! The store's writes the outbox makes, each on the blocking pool: a write waits for its
//! `fsync` (`synchronous=FULL`), which must not hold up the runtime's threads, which carry every
//! portal request and the listener.

use crate::store::{NoteStore, StoreError, Via};

pub(crate) struct Disk<'a>(pub &'a NoteStore);

impl Disk<'_> {
    async fn run<T: Send + 'static>(
        &self,
        write: impl FnOnce(&NoteStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.0.clone();
        tokio::task::spawn_blocking(move || write(&store))
            .await
            .map_err(|e| StoreError::Interrupted(e.to_string()))?
    }

    pub async fn begin_send(&self, id: &str, via: Via) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.run(move |s| s.begin_send(&id, via)).await
    }

    pub async fn mark_sent(
        &self,
        id: &str,
        comment_id: u64,
        text: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let (id, text) = (id.to_owned(), text.to_owned());
        self.run(move |s| s.mark_sent(&id, comment_id, &text, now_ms))
            .await
    }

    pub async fn mark_sent_on_activity(
        &self,
        id: &str,
        text: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let (id, text) = (id.to_owned(), text.to_owned());
        self.run(move |s| s.mark_sent_on_activity(&id, &text, now_ms))
            .await
    }

    pub async fn mark_retry(
        &self,
        id: &str,
        code: codes::ErrorCode,
        message: String,
        retry_at_ms: u64,
        unknown: bool,
    ) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.run(move |s| s.mark_retry(&id, code, &message, retry_at_ms, unknown))
            .await
    }

    pub async fn mark_failed(
        &self,
        id: &str,
        code: codes::ErrorCode,
        message: String,
    ) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.run(move |s| s.mark_failed(&id, code, &message)).await
    }
}
