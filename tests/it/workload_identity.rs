//! Workload identity tokens instead of an API key: the emulator checks them as TrueFoundry's
//! identity providers do, and the provider finds them where HCP Terraform, a token file or
//! GitHub Actions put them.

use serde_json::json;

use crate::support::emulator::{ACME_KEY, Emulator};
use crate::support::jwt::{self, Issuer, Signing};

fn emulator_trusting(issuer: &Issuer) -> (tempfile::TempDir, Emulator) {
    let dir = tempfile::tempdir().unwrap();
    let config = issuer.emulator_config(dir.path());
    let emulator = Emulator::start_with_config(&config);
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
    let with = |name: &str, value: serde_json::Value| {
        let mut claims = claims.clone();
        claims[name] = value;
        claims
    };
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
