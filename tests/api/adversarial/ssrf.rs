//! Server-side request forgery through a webhook URL: every address that is not globally
//! reachable is refused at registration, in any of its spellings (an IPv6 form that carries
//! an IPv4 address is judged by that address).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn a_webhook_to_any_special_purpose_address_is_refused_with_its_block() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let refused = [
        ("http://[2002:c0a8:101::1]/hook", "6to4"),
        ("http://[2002:808:808::1]/hook", "6to4"),
        ("http://[64:ff9b::a9fe:a9fe]/hook", "NAT64"),
        ("http://[64:ff9b:1::1]/hook", "local use"),
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "Teredo"),
        ("http://[::ffff:0:a00:1]/hook", "IPv4-translated"),
        ("http://[100::1]/hook", "discard"),
        ("http://192.88.99.1/hook", "6to4 relay"),
        ("http://[::ffff:169.254.169.254]/hook", "link local"),
        ("http://[::7f00:1]/hook", "loopback"),
        ("http://100.100.100.200/hook", "shared address space"),
        ("http://198.18.0.1/hook", "benchmarking"),
        ("http://[fd00:ec2::254]/hook", "unique local"),
        ("http://[3fff::1]/hook", "documentation"),
        ("http://240.0.0.1/hook", "reserved"),
    ];
    for (url, block) in refused {
        let body = json!({"url": url, "events": ["user.created"]});
        let problem = assert_problem(
            app.post_json("/admin/webhooks", &body, Some(&admin)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let why = problem.to_string();
        assert!(why.contains(block), "{url}: {why}");
    }
}
