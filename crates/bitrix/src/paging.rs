//! List methods page by 50 with `start`; the answer says where the `next` page starts.

use std::collections::VecDeque;

use serde_json::Value;

use crate::client::Client;
use crate::error::RestError;

/// Items of a list, fetched a page at a time as they are read. A failed page ends the list
/// after yielding its error.
pub struct Pages {
    client: Client,
    method: String,
    params: Value,
    next_start: Option<u64>,
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

    fn fetch(&mut self, start: u64) -> Result<(), RestError> {
        let mut params = match &self.params {
            Value::Object(map) => map.clone(),
            _ => Default::default(),
        };
        params.insert("start".into(), Value::from(start));
        let response = self.client.call(&self.method, Value::Object(params))?;
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
        Ok(())
    }
}

impl Iterator for Pages {
    type Item = Result<Value, RestError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() {
            let start = self.next_start.take()?;
            if let Err(e) = self.fetch(start) {
                return Some(Err(e));
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}
