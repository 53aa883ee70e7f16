use futures_util::StreamExt;
use serde_json::json;

use crate::support::{simulator, webhook_client};

#[tokio::test]
async fn a_list_is_read_fifty_at_a_time_to_its_end() {
    let sim = simulator();
    let client = webhook_client(&sim);
    let mut pages = client.list(
        "crm.contact.list",
        json!({"select": ["ID", "NAME"], "order": {"ID": "ASC"}}),
    );
    let ids: Vec<u64> = pages
        .by_ref()
        .map(|item| {
            item.unwrap()["ID"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .collect()
        .await;
    assert_eq!(ids, (1..=300).collect::<Vec<u64>>());
    assert_eq!(pages.total(), Some(300));
    assert_eq!(pages.pages_fetched(), 6);
}

#[tokio::test]
async fn a_filtered_list_stops_after_its_last_page() {
    let sim = simulator();
    let client = webhook_client(&sim);
    let expected = sim.with_data(|d| d.deals.values().filter(|r| r["CLOSED"] == "N").count());
    let mut pages = client.list("crm.deal.list", json!({"filter": {"CLOSED": "N"}}));
    let count = pages.by_ref().map(Result::unwrap).count().await;
    assert_eq!(count, expected);
    assert_eq!(pages.pages_fetched() as usize, expected.div_ceil(50));
}

#[tokio::test]
async fn a_failing_page_ends_the_list_with_its_error() {
    let sim = simulator();
    let client = webhook_client(&sim);
    let mut pages = client.list("crm.nothing.list", json!({}));
    assert_eq!(
        pages.next().await.unwrap().unwrap_err().code(),
        "method_not_found"
    );
    assert!(pages.next().await.is_none());
}
