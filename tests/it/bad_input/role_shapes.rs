//! Only unambiguous evidence proves a deletion. A member key whose session lists a workspace's
//! admin role, given by id (`[{"id": "admin", "resourceType": "workspace"}]`), once made the
//! provider read a 404 as proof, and `apply -refresh-only` dropped the group from state. With the
//! real CLI: that key keeps the group and gets "Not Visible To This API Key"; a key whose session
//! names `tenant-admin` sees the group gone. (Every role shape: `client::wire` unit tests.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value as Json, json};

use crate::support::hostile::{Hostile, Reply, group, plain_answer, session};
use crate::support::terraform::{Workspace, for_each_terraform};

const NAME: &str = "vanish-acme";
const MAIN_TF: &str =
    "resource \"truefoundry_secret_group\" \"g\" {\n  name = \"vanish-acme\"\n}\n";

/// A control plane where the group exists until `deleted` is set, then is "not found" (as the
/// API answers both for a deleted group and for one hidden from the key).
fn server(roles: Json, deleted: Arc<AtomicBool>) -> Hostile {
    Hostile::start(
        move |request| match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/v1/x/users/info") => Reply::json(200, session(roles.clone())),
            ("GET", "/v1/secret-groups") if deleted.load(Ordering::SeqCst) => {
                Reply::json(200, json!({"data": [], "pagination": {"total": 0}}))
            }
            ("GET", "/v1/secret-groups") => Reply::json(
                200,
                json!({"data": [group(NAME)], "pagination": {"total": 1}}),
            ),
            ("GET", path) if path == format!("/v1/secret-groups/{NAME}") => {
                if deleted.load(Ordering::SeqCst) {
                    Reply::json(
                        404,
                        json!({"statusCode": 404, "message": "Secret group not found"}),
                    )
                } else {
                    Reply::json(200, json!({"data": group(NAME)}))
                }
            }
            _ => plain_answer(request),
        },
    )
}

/// Imports the group, has it vanish, runs `apply -refresh-only`; returns the run and whether
/// the group is still in state.
fn refresh_after_vanishing(
    terraform: &crate::support::terraform::Terraform,
    roles: Json,
) -> (crate::support::terraform::Run, bool) {
    let deleted = Arc::new(AtomicBool::new(false));
    let server = server(roles, deleted.clone());
    let mut ws = Workspace::with_main(terraform, MAIN_TF);
    ws.set_env("TFY_HOST", &server.base_url)
        .set_env("TFY_API_KEY", "tfy-member-key");
    ws.import("truefoundry_secret_group.g", NAME);
    deleted.store(true, Ordering::SeqCst);
    let run = ws.run(&["apply", "-refresh-only", "-auto-approve"]);
    let listed = ws.run_ok(&["state", "list"]).stdout;
    (run, listed.contains("truefoundry_secret_group.g"))
}

#[test]
fn a_scoped_role_given_by_id_proves_no_deletion_on_refresh_only() {
    for_each_terraform(|terraform| {
        let (run, kept) = refresh_after_vanishing(
            terraform,
            json!([{"id": "admin", "resourceType": "workspace"}]),
        );
        let run = run.expect_failure();
        assert!(
            run.output()
                .contains("Secret Group Not Visible To This API Key"),
            "{run}"
        );
        assert!(kept, "the group stays in state\n{run}");

        let (run, kept) = refresh_after_vanishing(terraform, json!(["tenant-admin"]));
        run.expect_success();
        assert!(!kept, "a tenant admin's 404 is a deletion");
    });
}
