//! List methods page by 50 with `start`; the answer says where the `next` page starts.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde_json::Value;

use crate::client::{Client, Response};
use crate::error::RestError;

type PageFuture = Pin<Box<dyn Future<Output = Result<Response, RestError>> + Send>>;

/// Items of a list as a [`Stream`], fetched a page at a time as they are read. A failed page
/// ends the list after yielding its error.
pub struct Pages {
    client: Client,
    method: String,
    params: Value,
    next_start: Option<u64>,
    /// The page being fetched, and where it starts.
    fetching: Option<(u64, PageFuture)>,
    buffer: VecDeque<Value>,
    total: Option<u64>,
    pages: u32,
}

impl Pages {
    pub(crate) fn new(client: Client, method: &str, params: Value) -> Pages {
        Pages {
            client,
            method: method.to_owned(),
            params,
            next_start: Some(0),
            fetching: None,
            buffer: VecDeque::new(),
            total: None,
            pages: 0,
        }
    }

    /// The portal's `total`, once the first page is in.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Requests made so far.
    pub fn pages_fetched(&self) -> u32 {
        self.pages
    }

    fn page(&self, start: u64) -> PageFuture {
        let mut params = match &self.params {
            Value::Object(map) => map.clone(),
            _ => Default::default(),
        };
        params.insert("start".into(), Value::from(start));
        let client = self.client.clone();
        let method = self.method.clone();
        Box::pin(async move { client.call(&method, Value::Object(params)).await })
    }

    fn take(&mut self, start: u64, response: Response) {
        self.pages += 1;
        self.total = response.total.or(self.total);
        let items = match response.result {
            Value::Array(items) => items,
            // crm.item.list and friends wrap the list: {"items": [...]}.
            Value::Object(map) => map
                .into_iter()
                .find_map(|(_, v)| match v {
                    Value::Array(items) => Some(items),
                    _ => None,
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        // A next that does not move forward would loop for ever.
        self.next_start = response
            .next
            .filter(|next| *next > start && !items.is_empty());
        self.buffer.extend(items);
    }
}

impl Stream for Pages {
    type Item = Result<Value, RestError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if self.fetching.is_none() {
                let Some(start) = self.next_start.take() else {
                    return Poll::Ready(None);
                };
                let page = self.page(start);
                self.fetching = Some((start, page));
            }
            let (start, page) = self.fetching.as_mut().expect("a page is being fetched");
            let start = *start;
            match page.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => {
                    self.fetching = None;
                    match outcome {
                        Ok(response) => self.take(start, response),
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    }
                }
            }
        }
    }
}
