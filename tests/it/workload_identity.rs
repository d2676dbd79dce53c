//! Workload identity tokens instead of an API key: the emulator checks them as TrueFoundry's
//! identity providers do, and the provider finds them where HCP Terraform, a token file or
//! GitHub Actions put them.

use std::time::Duration;

use serde_json::json;
use truefoundry_provider::client::{Client, ClientConfig, ListGroupsQuery, SecretValue};

use crate::support::emulator::{ACME_KEY, Emulator, LoggedRequest};
use crate::support::hcl::GroupHcl;
use crate::support::jwt::{self, GITHUB_REQUEST_TOKEN, GitHubTokenEndpoint, Issuer, Signing};
use crate::support::terraform::{Terraform, Workspace, for_each_terraform};

const SESSION_PATH: &str = "/api/svc/v1/x/users/info";

fn emulator_trusting(issuer: &Issuer) -> (tempfile::TempDir, Emulator) {
    let dir = tempfile::tempdir().unwrap();
    let config = issuer.emulator_config(dir.path());
    let emulator = Emulator::builder().config_file(&config).start();
    (dir, emulator)
}

/// What the session endpoint says about `token`: the subject, or the error text.
fn session_of(emulator: &Emulator, token: &str) -> Result<String, String> {
    emulator
        .block_on(emulator.client(token).session())
        .map(|session| session.subject)
        .map_err(|error| error.to_string())
}

#[test]
fn the_emulator_maps_rs256_and_es256_tokens_to_their_virtual_account() {
    let issuer = Issuer::new();
    let (_dir, emulator) = emulator_trusting(&issuer);
    for signing in [Signing::Rs256, Signing::Es256] {
        let token = issuer.sign(signing, &Issuer::hcp_claims(jwt::WORKSPACE));
        let session = emulator.block_on(emulator.client(&token).session());
        let session = session.unwrap_or_else(|error| panic!("{signing:?}: {error}"));
        assert_eq!(
            session.subject, "virtualaccount:secrets-prod",
            "{signing:?}"
        );
        assert_eq!(session.tenant_name.as_deref(), Some("acme"));
        assert!(session.is_tenant_admin());
    }
    // API keys keep working beside the identity provider.
    assert_eq!(
        session_of(&emulator, ACME_KEY).unwrap(),
        "user:admin@acme.example"
    );
}

#[test]
fn the_emulator_refuses_each_bad_token_with_its_reason_and_never_the_token() {
    let issuer = Issuer::new();
    let (_dir, emulator) = emulator_trusting(&issuer);
    let claims = Issuer::hcp_claims(jwt::WORKSPACE);
    let with = Issuer::hcp_claims_with;
    let now = jwt::now();
    let cases = [
        (
            issuer.sign(Signing::Rs256, &with("exp", json!(now - 120))),
            "it has expired",
        ),
        (
            issuer.sign(Signing::Rs256, &with("nbf", json!(now + 600))),
            "not valid yet",
        ),
        (
            issuer.sign(Signing::Rs256, &with("aud", json!("someone-else"))),
            "its audience is none of",
        ),
        (
            issuer.sign(Signing::Rs256, &with("iss", json!("https://evil.example"))),
            "no identity provider has the issuer \"https://evil.example\"",
        ),
        (
            issuer.sign(Signing::ForeignKey, &claims),
            "its signature does not verify",
        ),
        (
            issuer.sign(Signing::None, &claims),
            "its algorithm \"none\" is not accepted",
        ),
        (
            issuer.sign(Signing::HmacWithPublicKey, &claims),
            "its algorithm \"HS256\" is not accepted",
        ),
        (
            issuer.sign(Signing::UnknownKid, &claims),
            "has no key with kid \"rsa-unknown\"",
        ),
        (
            issuer.sign(
                Signing::Rs256,
                &with("terraform_workspace_name", json!("staging")),
            ),
            "no virtual account of identity provider \"hcp-terraform\" is mapped to \
             terraform_workspace_name = \"staging\"",
        ),
        (
            issuer.sign(Signing::Rs256, &with("exp", json!("tomorrow"))),
            "exp claim",
        ),
        ("e30.e30.".to_owned(), "not accepted"),
        ("not.a.jwt".to_owned(), "not a well-formed JWT"),
    ];
    for (token, reason) in &cases {
        let error = session_of(&emulator, token).expect_err(reason);
        assert!(error.contains("(401)"), "{reason}: {error}");
        assert!(
            error.contains("workload identity token refused") && error.contains(reason),
            "{reason}: {error}"
        );
        assert!(!error.contains(token.as_str()), "{reason}: {error}");
    }
    // Within the leeway, a just-expired token still passes (clocks differ a little).
    let token = issuer.sign(Signing::Rs256, &with("exp", json!(now - 5)));
    assert_eq!(
        session_of(&emulator, &token).unwrap(),
        "virtualaccount:secrets-prod"
    );
    let log = std::fs::read_to_string(emulator.log_path()).unwrap();
    for (token, _) in &cases {
        let signature = token.rsplit('.').next().unwrap();
        assert!(signature.is_empty() || !log.contains(signature));
    }
}

#[test]
fn a_client_reading_a_token_file_sends_the_new_token_once_the_file_changes() {
    let issuer = Issuer::new();
    let (dir, emulator) = emulator_trusting(&issuer);
    let file = dir.path().join("token");
    std::fs::write(&file, issuer.token(jwt::WORKSPACE)).unwrap();
    let config = ClientConfig {
        host: emulator.base_url.clone(),
        api_key: SecretValue::new(std::fs::read_to_string(&file).unwrap()),
        max_retries: 0,
        request_timeout: Duration::from_secs(10),
        ca_cert_pem: None,
        terraform_version: "test".to_owned(),
    };
    let client = Client::with_token_file(config, file.clone()).unwrap();
    let subject = || emulator.block_on(client.session()).unwrap().subject;
    assert_eq!(subject(), "virtualaccount:secrets-prod");
    // Rotated as Kubernetes does: a new file moved over the old one.
    std::fs::write(dir.path().join("next"), issuer.token(jwt::OTHER_WORKSPACE)).unwrap();
    std::fs::rename(dir.path().join("next"), &file).unwrap();
    assert_eq!(subject(), "virtualaccount:secrets-rotated");
}

/// A workspace that reaches `emulator` with no credential at all: the tests add a token.
fn keyless_workspace(terraform: &Terraform, emulator: &Emulator, main_tf: &str) -> Workspace {
    let mut ws = Workspace::with_main(terraform, main_tf);
    ws.set_env("TFY_HOST", &emulator.base_url);
    ws
}

fn group_tf(name: &str, secrets: &[(&str, &str)]) -> String {
    GroupHcl::new("g", name)
        .map("secrets", secrets.iter().copied())
        .to_string()
}

/// Panics naming the place when `token` (or its signature, the part no decoding shows) is in
/// `text`.
#[track_caller]
fn assert_token_absent(token: &str, place: &str, text: &str) {
    let signature = token.rsplit('.').next().unwrap_or_default();
    assert!(!text.contains(token), "the token leaked into {place}");
    assert!(
        signature.len() < 16 || !text.contains(signature),
        "the token's signature leaked into {place}"
    );
}

fn subjects(requests: &[LoggedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|request| request.subject.clone().unwrap_or_default())
        .collect()
}

#[test]
fn terraform_applies_with_a_workload_identity_token_and_no_api_key_anywhere() {
    let issuer = Issuer::new();
    let (dir, emulator) = emulator_trusting(&issuer);
    let github_token = issuer.sign(Signing::Es256, &Issuer::hcp_claims(jwt::WORKSPACE));
    let github = GitHubTokenEndpoint::start(vec![github_token.clone()]);
    for_each_terraform(|terraform| {
        let name = format!("wi-{}", terraform.version.replace('.', "-"));
        let mut ws = keyless_workspace(terraform, &emulator, &group_tf(&name, &[("A", "a")]));
        let trace = ws.trace_log();
        let token = issuer.token(jwt::WORKSPACE);
        let mut tokens = vec![token.clone(), github_token.clone()];
        let mut runs = Vec::new();

        // HCP Terraform's untagged variable: the group is created by the virtual account.
        ws.set_env("TFC_WORKLOAD_IDENTITY_TOKEN", &token);
        runs.push(ws.apply());
        let group = emulator
            .block_on(
                emulator
                    .client(ACME_KEY)
                    .list_secret_groups(&ListGroupsQuery {
                        fqn: Some(format!("acme:{name}")),
                        ..Default::default()
                    }),
            )
            .unwrap();
        assert_eq!(group.len(), 1, "{name}");
        assert_eq!(
            group[0].created_by.as_deref(),
            Some("virtualaccount:secrets-prod")
        );
        runs.push(ws.plan_detailed_exitcode().expect_empty());

        // The tagged variable wins: the untagged one now holds a token TrueFoundry refuses.
        let unmapped = issuer.token("unmapped-workspace");
        tokens.push(unmapped.clone());
        ws.set_env("TFC_WORKLOAD_IDENTITY_TOKEN", &unmapped);
        ws.set_env("TFC_WORKLOAD_IDENTITY_TOKEN_TRUEFOUNDRY", &token);
        runs.push(ws.plan_detailed_exitcode().expect_empty());

        // A token file rewritten between plan and apply: the apply sends the new token.
        ws.set_env("TFC_WORKLOAD_IDENTITY_TOKEN", "");
        ws.set_env("TFC_WORKLOAD_IDENTITY_TOKEN_TRUEFOUNDRY", "");
        let file = dir.path().join(format!("token-{name}"));
        std::fs::write(&file, &token).unwrap();
        ws.set_env("TFY_OIDC_TOKEN_FILE", &file);
        ws.write("main.tf", &group_tf(&name, &[("A", "a"), ("B", "b")]));
        runs.push(ws.run_ok(&["plan", "-out=tfplan"]));
        let rotated = issuer.token(jwt::OTHER_WORKSPACE);
        tokens.push(rotated.clone());
        std::fs::write(&file, &rotated).unwrap();
        let mark = emulator.mark();
        runs.push(ws.run_ok(&["apply", "tfplan"]));
        let applied = emulator.requests_since(mark);
        assert!(applied.iter().any(LoggedRequest::is_write));
        assert!(
            subjects(&applied)
                .iter()
                .all(|subject| subject == "virtualaccount:secrets-rotated"),
            "{:?}",
            subjects(&applied)
        );
        assert_eq!(
            emulator.secret_values(&name).unwrap().len(),
            2,
            "B was written"
        );

        // GitHub Actions: with `oidc_audience`, a token from the endpoint.
        ws.set_env("TFY_OIDC_TOKEN_FILE", "");
        ws.set_env("ACTIONS_ID_TOKEN_REQUEST_URL", &github.url);
        ws.set_env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", GITHUB_REQUEST_TOKEN);
        ws.set_env("TFY_OIDC_AUDIENCE", jwt::AUDIENCE);
        let mark = emulator.mark();
        let before = github.audiences.lock().unwrap().len();
        runs.push(ws.plan_detailed_exitcode().expect_empty());
        let asked = github.audiences.lock().unwrap()[before..].to_vec();
        assert!(
            !asked.is_empty() && asked.iter().all(|a| a == jwt::AUDIENCE),
            "{asked:?}"
        );
        let planned = subjects(&emulator.requests_since(mark));
        assert!(
            !planned.is_empty() && planned.iter().all(|s| s == "virtualaccount:secrets-prod"),
            "{planned:?}"
        );

        // A request token the endpoint refuses: the plan fails before any API request.
        ws.set_env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-wrong-request-token");
        let mark = emulator.mark();
        let run = ws.run(&["plan"]).expect_failure();
        let output = run.flat_output();
        assert!(
            output.contains("Workload Identity Token Unavailable"),
            "{run}"
        );
        assert!(output.contains("the endpoint answered 401"), "{run}");
        assert!(!output.contains("gh-wrong-request-token"), "{run}");
        assert!(emulator.requests_since(mark).is_empty());
        runs.push(run);

        let log = std::fs::read_to_string(&trace).unwrap();
        assert!(
            log.contains("TrueFoundry API call"),
            "the trace log has the provider's lines"
        );
        assert!(!log.contains("gh-wrong-request-token"));
        for token in tokens
            .iter()
            .map(String::as_str)
            .chain([GITHUB_REQUEST_TOKEN])
        {
            assert_token_absent(token, "TF_LOG=trace", &log);
            for run in &runs {
                assert_token_absent(token, &run.command, &run.output());
            }
        }
    });
}

#[test]
fn each_refused_token_fails_the_plan_with_its_message_after_one_identity_check() {
    let issuer = Issuer::new();
    let (_dir, emulator) = emulator_trusting(&issuer);
    let claims = Issuer::hcp_claims(jwt::WORKSPACE);
    let with = Issuer::hcp_claims_with;
    let expired_at = jwt::now() - 600;
    // (token, summary, what the detail says, identity checks sent)
    let cases = [
        (
            issuer.sign(Signing::Rs256, &with("exp", json!(expired_at))),
            "Workload Identity Token Expired",
            "seconds ago), so TrueFoundry would refuse it; no request was sent",
            0,
        ),
        (
            issuer.sign(Signing::Rs256, &with("aud", json!("not-truefoundry"))),
            "Workload Identity Token Refused",
            "its audience is none of",
            1,
        ),
        (
            issuer.sign(Signing::Rs256, &with("iss", json!("https://wrong.example"))),
            "Workload Identity Token Refused",
            "no identity provider has the issuer",
            1,
        ),
        (
            issuer.sign(Signing::ForeignKey, &claims),
            "Workload Identity Token Refused",
            "its signature does not verify",
            1,
        ),
        (
            issuer.sign(Signing::None, &claims),
            "Workload Identity Token Refused",
            "its algorithm \"none\" is not accepted",
            1,
        ),
        (
            issuer.sign(Signing::UnknownKid, &claims),
            "Workload Identity Token Refused",
            "has no key with kid",
            1,
        ),
        (
            issuer.sign(
                Signing::Rs256,
                &with("terraform_workspace_name", json!("staging")),
            ),
            "Workload Identity Token Refused",
            "no virtual account of identity provider \"hcp-terraform\" is mapped to \
             terraform_workspace_name = \"staging\"",
            1,
        ),
    ];
    for_each_terraform(|terraform| {
        let mut ws = keyless_workspace(terraform, &emulator, &group_tf("refused", &[("A", "a")]));
        let trace = ws.trace_log();
        for (token, summary, detail, checks) in &cases {
            ws.set_env("TFC_WORKLOAD_IDENTITY_TOKEN", token);
            let mark = emulator.mark();
            let run = ws.run(&["plan"]).expect_failure();
            let output = run.flat_output();
            assert!(output.contains(summary), "{summary}\n{run}");
            assert!(output.contains(detail), "{detail}\n{run}");
            assert!(
                output.contains("the TFC_WORKLOAD_IDENTITY_TOKEN environment variable"),
                "{run}"
            );
            if *checks == 1 {
                assert!(
                    output.contains("Check TrueFoundry's identity provider"),
                    "{run}"
                );
            }
            let sent = emulator.requests_since(mark);
            assert_eq!(sent.len(), *checks, "{summary}: {sent:?}");
            assert!(
                sent.iter()
                    .all(|r| r.method == "GET" && r.path == SESSION_PATH && r.status == Some(401)),
                "{sent:?}"
            );
            assert_token_absent(token, "the plan's output", &run.output());
        }
        let log = std::fs::read_to_string(&trace).unwrap();
        for (token, ..) in &cases {
            assert_token_absent(token, "TF_LOG=trace", &log);
        }

        // An API key beside a token setting: neither is sent.
        ws.set_env("TFC_WORKLOAD_IDENTITY_TOKEN", "");
        ws.set_env("TFY_API_KEY", ACME_KEY);
        ws.set_env("TFY_OIDC_TOKEN", issuer.token(jwt::WORKSPACE));
        let mark = emulator.mark();
        let run = ws.run(&["plan"]).expect_failure();
        let output = run.flat_output();
        assert!(
            output.contains("Conflicting TrueFoundry Credentials"),
            "{run}"
        );
        assert!(
            output.contains("Both TFY_API_KEY and TFY_OIDC_TOKEN are set"),
            "{run}"
        );
        assert!(emulator.requests_since(mark).is_empty());

        // Nothing at all: every place looked is named.
        ws.set_env("TFY_API_KEY", "");
        ws.set_env("TFY_OIDC_TOKEN", "");
        let run = ws.run(&["plan"]).expect_failure();
        let output = run.flat_output();
        assert!(output.contains("Missing TrueFoundry API Key"), "{run}");
        assert!(
            output.contains("HCP Terraform's TFC_WORKLOAD_IDENTITY_TOKEN_TRUEFOUNDRY and TFC_WORKLOAD_IDENTITY_TOKEN"),
            "{run}"
        );
    });
}

/// A server that echoes the bearer token in its error gets its text withheld, for a token read
/// from a file (after a rotation too) just as for an API key.
#[tokio::test]
async fn a_token_echoed_by_the_server_is_withheld_from_the_error() {
    use crate::support::stub::{Canned, Stub};

    let issuer = Issuer::new();
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    let first = issuer.token(jwt::WORKSPACE);
    std::fs::write(&file, &first).unwrap();
    let client = Client::with_token_file(
        ClientConfig {
            host: stub.base_url.clone(),
            api_key: SecretValue::new(first.clone()),
            max_retries: 0,
            request_timeout: Duration::from_secs(10),
            ca_cert_pem: None,
            terraform_version: "test".to_owned(),
        },
        file.clone(),
    )
    .unwrap();
    let rotated = issuer.token(jwt::OTHER_WORKSPACE);
    for token in [&first, &rotated] {
        std::fs::write(dir.path().join("next"), token).unwrap();
        std::fs::rename(dir.path().join("next"), &file).unwrap();
        stub.answer_everything(Some(Canned::json(
            401,
            json!({"message": format!("bad token: Bearer {token}")}),
        )));
        let error = client.session().await.unwrap_err().to_string();
        assert!(error.contains("not shown because it repeats"), "{error}");
        assert!(!error.contains("bad token"), "{error}");
        assert_token_absent(token, "the error", &error);
    }
}

/// GitHub Actions' tokens live minutes: one about to expire is requested again before a call.
#[test]
fn a_github_actions_token_is_requested_again_shortly_before_it_expires() {
    let issuer = Issuer::new();
    let (_dir, emulator) = emulator_trusting(&issuer);
    let expiring = issuer.sign(
        Signing::Es256,
        &Issuer::hcp_claims_with("exp", json!(jwt::now() + 30)),
    );
    let next = issuer.token(jwt::OTHER_WORKSPACE);
    let github = GitHubTokenEndpoint::start(vec![expiring, next]);
    let url = reqwest::Url::parse(&github.url).unwrap();
    let request_token = SecretValue::new(GITHUB_REQUEST_TOKEN);
    let first = emulator
        .block_on(truefoundry_provider::client::github_actions_token(
            &url,
            &request_token,
            jwt::AUDIENCE,
            Duration::from_secs(10),
        ))
        .unwrap();
    let config = ClientConfig {
        host: emulator.base_url.clone(),
        api_key: first,
        max_retries: 0,
        request_timeout: Duration::from_secs(10),
        ca_cert_pem: None,
        terraform_version: "test".to_owned(),
    };
    let client =
        Client::with_github_actions_token(config, url, request_token, jwt::AUDIENCE.to_owned())
            .unwrap();
    for _ in 0..2 {
        let session = emulator.block_on(client.session()).unwrap();
        assert_eq!(session.subject, "virtualaccount:secrets-rotated");
    }
    assert_eq!(
        *github.audiences.lock().unwrap(),
        [jwt::AUDIENCE, jwt::AUDIENCE],
        "one renewal, then the renewed token is kept"
    );
}
