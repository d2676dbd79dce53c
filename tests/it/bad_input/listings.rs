//! Listings a server cannot abuse: a pager that announces `total: 1e15` and hands out new ids
//! on every page ends in a clear error after a bounded number of pages (both listings share the
//! loop), with the provider's memory bounded; and a listing that breaks the API's rules (an id
//! twice, a key twice, a secret of another group) is an error naming what is wrong, not a pick.

use std::time::Duration;

use serde_json::{Value as Json, json};
use truefoundry_provider::client::{
    Client, ClientConfig, Error, ListGroupsQuery, ListSecretsQuery, SecretValue,
};
use truefoundry_provider::value::Value;

use crate::support::hcl::conform;
use crate::support::hostile::{Hostile, Reply, Request, group, plain_answer};
use crate::support::terraform::{Workspace, for_each_terraform};
use crate::support::tfclient::{ImitatedTerraform, Launch, PluginProcess};

const ENDLESS_TOTAL: u64 = 1_000_000_000_000_000;
/// The provider's bound on one listing's items (`client::LIST_MAX_ITEMS`), and so on its pages
/// of 1000.
const MAX_ITEMS: usize = 100_000;

fn query_number(query: &str, name: &str) -> u64 {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

fn secret(id: &str, key: &str, group: &str) -> Json {
    json!({
        "id": id, "fqn": format!("tfy-secret://acme:{group}:{key}"), "name": key,
        "secretGroupId": group, "value": "v", "secretVersions": [{"version": 1}],
    })
}

/// Every page is full, of items never seen before, and the total is a lie.
fn endless(request: &Request) -> Reply {
    let (offset, limit, secrets) = match request.route().as_str() {
        "GET /v1/secret-groups" => (
            query_number(&request.query, "offset"),
            query_number(&request.query, "limit"),
            false,
        ),
        "POST /v1/secrets" => {
            let body = request.json();
            (
                body["offset"].as_u64().unwrap_or(0),
                body["limit"].as_u64().unwrap_or(0),
                true,
            )
        }
        _ => return plain_answer(request),
    };
    let items: Vec<Json> = (offset..offset + limit.max(1))
        .map(|n| {
            if secrets {
                secret(&format!("s-{n}"), &format!("K{n}"), "sg-1")
            } else {
                group(&format!("g-{n}"))
            }
        })
        .collect();
    Reply::json(
        200,
        json!({"data": items, "pagination": {"total": ENDLESS_TOTAL, "offset": offset, "limit": limit}}),
    )
}

fn client(server: &Hostile) -> Client {
    Client::new(ClientConfig {
        host: server.base_url.clone(),
        api_key: SecretValue::new("tfy-listing-key"),
        max_retries: 0,
        request_timeout: Duration::from_secs(10),
        ca_cert_pem: None,
        terraform_version: "1.0.3".into(),
    })
    .expect("a client")
}

fn group_query() -> ListGroupsQuery {
    ListGroupsQuery::default()
}

fn secrets_query() -> ListSecretsQuery {
    ListSecretsQuery {
        secret_group_id: Some("sg-1".into()),
        secret_fqns: Vec::new(),
        with_value: true,
    }
}

#[tokio::test]
async fn an_endless_pager_ends_in_an_error_after_a_bounded_number_of_pages() {
    let server = Hostile::start(endless);
    let client = client(&server);
    let groups = client.list_secret_groups(&group_query()).await;
    let secrets = client.list_secrets(&secrets_query()).await;
    for (what, error) in [
        ("groups", groups.map(|_| ()).err()),
        ("secrets", secrets.map(|_| ()).err()),
    ] {
        let error = error.unwrap_or_else(|| panic!("{what}: an endless listing succeeded"));
        let text = error.to_string();
        assert!(matches!(error, Error::Decode { .. }), "{what}: {text}");
        for needle in [
            "the listing does not end",
            "(the server announced 1000000000000000 in all)",
            "100000 items",
        ] {
            assert!(text.contains(needle), "{what}: {needle} not in {text}");
        }
    }
    let pages = server.requests().len();
    assert_eq!(
        pages,
        2 * (MAX_ITEMS / 1000 + 1),
        "each listing stops one page past the item bound"
    );
}

/// One listing answer per route, the same for every page asked.
fn listing_server(groups: Vec<Json>, secrets: Vec<Json>) -> Hostile {
    Hostile::start(move |request| match request.route().as_str() {
        "GET /v1/secret-groups" => Reply::json(
            200,
            json!({"data": groups, "pagination": {"total": groups.len()}}),
        ),
        "POST /v1/secrets" => Reply::json(
            200,
            json!({"data": secrets, "pagination": {"total": secrets.len()}}),
        ),
        _ => plain_answer(request),
    })
}

#[tokio::test]
async fn a_listing_that_breaks_the_apis_rules_is_an_error_naming_the_break() {
    let mut key_twice = group("g-2");
    key_twice["associatedSecrets"] = json!([
        {"id": "s-1", "fqn": "tfy-secret://acme:g-2:K", "name": "K"},
        {"id": "s-2", "fqn": "tfy-secret://acme:g-2:K", "name": "K"},
    ]);
    let cases: [(&str, Hostile, &str); 5] = [
        (
            "groups",
            listing_server(vec![group("g-1"), group("g-2"), group("g-1")], vec![]),
            "the listing holds the id `g-1` twice",
        ),
        (
            "groups",
            listing_server(vec![group("g-1"), key_twice], vec![]),
            "the secret group `g-2` lists the key `K` twice",
        ),
        (
            "secrets",
            listing_server(
                vec![],
                vec![secret("s-1", "K", "sg-1"), secret("s-1", "L", "sg-1")],
            ),
            "the listing holds the id `s-1` twice",
        ),
        (
            "secrets",
            listing_server(
                vec![],
                vec![secret("s-1", "K", "sg-1"), secret("s-2", "K", "sg-1")],
            ),
            "the listing holds the key `K` of the secret group `sg-1` twice",
        ),
        (
            "secrets",
            listing_server(
                vec![],
                vec![secret("s-1", "K", "sg-1"), secret("s-2", "L", "sg-other")],
            ),
            "the listing of the secret group `sg-1` holds the secret `s-2` (key `L`) of another \
             group, `sg-other`",
        ),
    ];
    for (what, server, expected) in cases {
        let client = client(&server);
        let error = match what {
            "groups" => client.list_secret_groups(&group_query()).await.err(),
            _ => client.list_secrets(&secrets_query()).await.err(),
        };
        let text = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(text.contains(expected), "{expected:?} not in {text:?}");
    }
}

/// Peak resident memory of a process, from `/proc` (`VmHWM`), in kB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in the status")
}

/// The provider binary, reading `truefoundry_secret_groups` from an endless pager: the error
/// comes, and the provider's peak memory stays bounded. The figure is printed for the record.
#[tokio::test]
async fn the_provider_reading_an_endless_listing_stops_with_bounded_memory() {
    let server = Hostile::start(endless);
    let process = PluginProcess::start(Launch::default()).await.unwrap();
    let mut client = process.connect(ImitatedTerraform::V1_11).await.unwrap();
    client.get_schema().await.unwrap();
    let config = conform(
        &Value::object([
            ("host", Value::string(server.base_url.clone())),
            ("api_key", Value::string("tfy-listing-key")),
            ("max_retries", Value::Number(0.into())),
        ]),
        &client.provider_type(),
    );
    assert!(client.configure(&config).await.unwrap().is_empty());
    let data_config = conform(
        &Value::object(std::iter::empty::<(&str, Value)>()),
        &client.data_source_type("truefoundry_secret_groups"),
    );
    let read = client
        .read_data_source("truefoundry_secret_groups", &data_config)
        .await
        .unwrap();
    let error = read
        .diagnostics
        .iter()
        .find(|d| d.summary == "Unexpected TrueFoundry Response")
        .unwrap_or_else(|| panic!("{:?}", read.diagnostics));
    assert!(
        error.detail.contains("the listing does not end"),
        "{}",
        error.detail
    );
    let peak_kb = peak_rss_kb(process.pid().expect("the provider's pid"));
    eprintln!(
        "endless pager: {} requests, provider peak RSS {} MB (VmHWM)",
        server.requests().len(),
        peak_kb / 1024
    );
    assert!(
        peak_kb < 200 * 1024,
        "the provider held {peak_kb} kB for one listing"
    );
    client.shutdown().await.ok();
}

#[test]
fn terraform_reading_an_endless_listing_fails_with_a_clear_error() {
    let server = Hostile::start(endless);
    for_each_terraform(|terraform| {
        let mut ws =
            Workspace::with_main(terraform, "data \"truefoundry_secret_groups\" \"all\" {}\n");
        ws.set_env("TFY_HOST", &server.base_url)
            .set_env("TFY_API_KEY", "tfy-listing-key");
        let run = ws.run(&["plan"]).expect_failure();
        let flat = run
            .output()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for needle in [
            "Unexpected TrueFoundry Response",
            "the listing does not end",
            "past this provider's bounds of 10000 pages, 100000 items and 134217728 bytes",
        ] {
            assert!(flat.contains(needle), "{needle} not in:\n{run}");
        }
    });
}

/// With the real CLI: a group whose listing holds key `K` twice, with two values, is not read
/// as one of them (which planned an update); importing it fails naming the key.
#[test]
fn terraform_refuses_a_group_listing_a_key_twice() {
    let server = Hostile::start(|request| match request.route().as_str() {
        "GET /v1/secret-groups/twice-acme" => {
            let mut group = group("twice-acme");
            group["associatedSecrets"] = json!([
                {"id": "s-1", "fqn": "tfy-secret://acme:twice-acme:K", "name": "K"},
            ]);
            Reply::json(200, json!({"data": group}))
        }
        "POST /v1/secrets" => Reply::json(
            200,
            json!({"data": [secret("s-1", "K", "twice-acme"), secret("s-2", "K", "twice-acme")],
                   "pagination": {"total": 2}}),
        ),
        _ => plain_answer(request),
    });
    for_each_terraform(|terraform| {
        let mut ws = Workspace::with_main(
            terraform,
            "resource \"truefoundry_secret_group\" \"g\" {\n  name    = \"twice-acme\"\n  \
             secrets = { K = \"v\" }\n}\n",
        );
        ws.set_env("TFY_HOST", &server.base_url)
            .set_env("TFY_API_KEY", "tfy-listing-key");
        let run = ws
            .run(&["import", "truefoundry_secret_group.g", "twice-acme"])
            .expect_failure();
        let flat = run
            .output()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            flat.contains("the listing holds the key `K` of the secret group `twice-acme` twice"),
            "{run}"
        );
        assert!(
            ws.run(&["state", "list"]).stdout.trim().is_empty(),
            "nothing was imported"
        );
    });
}
