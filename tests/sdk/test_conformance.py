"""The emulator checked against TrueFoundry's own Python SDK.

The SDK's models are generated from TrueFoundry's API definition: every answer the emulator gives
must parse into them, and every request the SDK sends must be accepted, or refused with the
status (and error class) the API reference gives. Each test drives one SDK call the provider's
API surface offers on secret groups, secrets and the session.

Run by scripts/test through scripts/sdk-conformance, which installs the pinned SDK and points
TFY_EMULATOR_BIN at the emulator build.
"""

import json
import os
import subprocess
import tempfile
import unittest

import httpx
import truefoundry_sdk
from truefoundry_sdk import TrueFoundry
from truefoundry_sdk.core.api_error import ApiError
from truefoundry_sdk.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnprocessableEntityError,
)
from truefoundry_sdk.types import (
    Collaborator,
    DeleteSecretGroupResponse,
    HttpError,
    OwnedBy,
    Secret,
    SecretGroup,
    SecretGroupManifest,
    SecretInput,
    Session,
    SessionAccount,
    SessionTeam,
    UpdateSecretInput,
)

TENANT = "acme"
INTEGRATION = "acme:aws:aws-1:secret-store:ssm"
ADMIN = "sdk-admin-key"
VIEWER = "sdk-viewer-key"
EDITOR = "sdk-editor-key"
OUTSIDER = "sdk-other-tenant-key"
VIEWER_SUBJECT = "user:viewer@acme.example"
EDITOR_SUBJECT = "serviceaccount:deployer"
IN_USE_GROUP = "in-use"

CONFIG = {
    "tenants": [{"name": TENANT}, {"name": "globex"}],
    "integrations": [
        {"tenant": TENANT, "fqn": INTEGRATION},
        {"tenant": TENANT, "fqn": "acme:aws:aws-1:secret-store:other"},
        {"tenant": "globex", "fqn": "globex:aws:aws-1:secret-store:ssm"},
    ],
    "api_keys": [
        {"token": ADMIN, "tenant": TENANT, "subject": "user:admin@acme.example", "tenant_admin": True},
        {"token": VIEWER, "tenant": TENANT, "subject": VIEWER_SUBJECT},
        {"token": EDITOR, "tenant": TENANT, "subject": EDITOR_SUBJECT},
        {"token": OUTSIDER, "tenant": "globex", "subject": "user:eve@globex.example", "tenant_admin": True},
    ],
    "active_deployments": {f"tfy-secret://{TENANT}:{IN_USE_GROUP}:USED": 2},
}


class Emulator:
    """One emulator process on a free port of 127.0.0.1, with CONFIG."""

    def __init__(self):
        binary = os.environ.get("TFY_EMULATOR_BIN", "target/debug/truefoundry-emulator")
        self.dir = tempfile.TemporaryDirectory(prefix="tfy-sdk-")
        config = os.path.join(self.dir.name, "emulator.json")
        with open(config, "w") as handle:
            json.dump(CONFIG, handle)
        self.log = os.path.join(self.dir.name, "requests.log")
        self.process = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--config", config, "--request-log", self.log],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = line.removeprefix("listening on ")

    def client(self, key=ADMIN):
        return TrueFoundry(base_url=self.url, api_key=key, timeout=30)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()
        self.dir.cleanup()


def manifest(name, collaborators=(), integration=INTEGRATION, owned_by=None):
    return SecretGroupManifest(
        name=name,
        integration_fqn=integration,
        collaborators=[Collaborator(subject=s, role_id=r) for s, r in collaborators],
        owned_by=owned_by,
    )


class Conformance(unittest.TestCase):
    emulator = None

    @classmethod
    def setUpClass(cls):
        cls.emulator = Emulator()
        cls.admin = cls.emulator.client()

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()

    def group(self, name, secrets=(("A", "a1"),), collaborators=()):
        """A group made by manifest, then given `secrets` with a full-list update."""
        created = self.admin.secret_groups.create_or_update(manifest=manifest(name, collaborators)).data
        self.assertIsInstance(created, SecretGroup)
        if secrets:
            updated = self.admin.secret_groups.update(
                created.id, secrets=[UpdateSecretInput(key=k, value=v) for k, v in secrets]
            ).data
            return updated
        return created

    def assertHttpError(self, error, status):
        self.assertEqual(error.status_code, status)
        body = error.body
        if not isinstance(body, HttpError):
            body = HttpError.model_validate(body)
        self.assertEqual(body.status_code, status)
        self.assertTrue(body.message)
        return body

    # ---- the session ----

    def test_users_get_info_parses_for_every_kind_of_key(self):
        for key, subject, admin in [
            (ADMIN, "user:admin@acme.example", True),
            (VIEWER, VIEWER_SUBJECT, False),
            (EDITOR, EDITOR_SUBJECT, False),
        ]:
            session = self.emulator.client(key).internal.users.get_info()
            self.assertIsInstance(session, Session)
            self.assertEqual(f"{session.subject_type}:{session.subject_slug}", subject)
            self.assertEqual(session.tenant_name, TENANT)
            self.assertTrue(session.id and session.effective_user_id)
            self.assertEqual("tenant-admin" in session.roles, admin)
            self.assertTrue(all(isinstance(team, SessionTeam) for team in session.teams))
            self.assertTrue(session.accounts, "a key belongs to an account")
            self.assertTrue(all(isinstance(account, SessionAccount) for account in session.accounts))
            self.assertTrue(all(account.id and account.name for account in session.accounts))

    def test_a_wrong_key_is_refused_with_401(self):
        with self.assertRaises(ApiError) as caught:
            self.emulator.client("not-a-key").internal.users.get_info()
        self.assertHttpError(caught.exception, 401)

    # ---- secret groups ----

    def test_create_or_update_by_manifest_creates_updates_and_dry_runs(self):
        created = self.admin.secret_groups.create_or_update(
            manifest=manifest("manifested", [(VIEWER_SUBJECT, "secret-group-viewer")])
        ).data
        self.assertEqual(created.fqn, f"{TENANT}:manifested")
        self.assertEqual(created.tenant_name, TENANT)
        self.assertEqual(created.associated_secrets, [])
        self.assertEqual(created.manifest["integration_fqn"], INTEGRATION)
        self.assertEqual(created.created_by_subject.subject_type, "user")

        updated = self.admin.secret_groups.create_or_update(
            manifest=manifest("manifested", [(EDITOR_SUBJECT, "secret-group-editor")])
        ).data
        self.assertEqual(updated.id, created.id, "matching is by name")
        self.assertEqual(updated.manifest["collaborators"][0]["subject"], EDITOR_SUBJECT)

        dry = self.admin.secret_groups.create_or_update(manifest=manifest("dry-only"), dry_run=True).data
        self.assertIsInstance(dry, SecretGroup)
        self.assertEqual(list(self.admin.secret_groups.list(fqn=f"{TENANT}:dry-only")), [])

    def test_manifest_with_owned_by_is_accepted(self):
        group = self.admin.secret_groups.create_or_update(
            manifest=manifest("owned", owned_by=OwnedBy(account=TENANT))
        ).data
        self.assertEqual(group.manifest.get("ownedBy"), {"account": TENANT})

    def test_manifest_refusals_carry_the_documented_statuses(self):
        self.group("integration-fixed", secrets=())
        with self.assertRaises(ConflictError) as caught:
            self.admin.secret_groups.create_or_update(
                manifest=manifest("integration-fixed", integration="acme:aws:aws-1:secret-store:other")
            )
        self.assertHttpError(caught.exception, 409)

        viewed = [(VIEWER_SUBJECT, "secret-group-viewer")]
        self.group("viewed", secrets=(), collaborators=viewed)
        with self.assertRaises(ForbiddenError) as caught:
            self.emulator.client(VIEWER).secret_groups.create_or_update(manifest=manifest("viewed", viewed))
        self.assertHttpError(caught.exception, 403)

        with self.assertRaises((NotFoundError, BadRequestError)) as caught:
            self.admin.secret_groups.create_or_update(
                manifest=manifest("unknown-store", integration="acme:aws:aws-1:secret-store:nope")
            )
        self.assertIn(caught.exception.status_code, (400, 404))

        with self.assertRaises(UnprocessableEntityError) as caught:
            self.admin.secret_groups.create_or_update(
                manifest=manifest("bad-role", [(VIEWER_SUBJECT, "secret-group-owner")])
            )
        self.assertHttpError(caught.exception, 422)

    def test_create_simple_form_needs_a_value_per_secret(self):
        integration_id = self.group("for-integration-id", secrets=()).integration_id
        self.assertTrue(integration_id)
        group = self.admin.secret_groups.create(
            name="simple",
            integration_id=integration_id,
            secrets=[SecretInput(key="K1", value="v1"), SecretInput(key="K2", value="v2")],
        ).data
        self.assertEqual(sorted(s.name for s in group.associated_secrets), ["K1", "K2"])
        self.assertTrue(all(s.value is None for s in group.associated_secrets))

    def test_get_reads_a_group_and_refuses_unknown_or_foreign_ids(self):
        group = self.group("gettable")
        got = self.admin.secret_groups.get(group.id).data
        self.assertEqual((got.id, got.fqn), (group.id, group.fqn))
        self.assertEqual([s.name for s in got.associated_secrets], ["A"])
        with self.assertRaises(NotFoundError):
            self.admin.secret_groups.get("no-such-group")
        with self.assertRaises(NotFoundError):
            self.emulator.client(OUTSIDER).secret_groups.get(group.id)

    def test_list_pages_through_every_group_and_filters(self):
        names = [f"paged-{i}" for i in range(7)]
        for name in names:
            self.group(name, secrets=())
        pager = self.admin.secret_groups.list(limit=3, search="paged-")
        self.assertEqual(pager.response.pagination.total, 7)
        self.assertEqual(len(pager.items), 3)
        listed = [g.fqn for g in pager]
        self.assertEqual(sorted(listed), sorted(f"{TENANT}:{name}" for name in names))
        self.assertEqual(len(set(listed)), 7, "no group twice across pages")

        exact = list(self.admin.secret_groups.list(fqn=f"{TENANT}:paged-3"))
        self.assertEqual([g.fqn for g in exact], [f"{TENANT}:paged-3"])
        self.assertEqual(list(self.admin.secret_groups.list(fqn=f"{TENANT}:nothing-here")), [])
        upper = list(self.admin.secret_groups.list(search="PAGED-5"))
        self.assertEqual([g.fqn for g in upper], [f"{TENANT}:paged-5"])
        trimmed = list(self.admin.secret_groups.list(search="paged-1", attributes=["id", "fqn"]))
        self.assertEqual(len(trimmed), 1)
        self.assertEqual(list(self.emulator.client(OUTSIDER).secret_groups.list(search="paged-")), [])

    def test_list_refuses_a_limit_out_of_range(self):
        for limit in (0, 1001):
            with self.assertRaises(ApiError) as caught:
                list(self.admin.secret_groups.list(limit=limit))
            self.assertHttpError(caught.exception, 400)

    def test_update_writes_versions_keeps_omitted_values_and_deletes_absent_keys(self):
        group = self.group(
            "updated",
            secrets=(("A", "a1"), ("B", "b1"), ("C", "c1")),
            collaborators=[(VIEWER_SUBJECT, "secret-group-viewer")],
        )
        updated = self.admin.secret_groups.update(
            group.id,
            secrets=[UpdateSecretInput(key="A", value="a2"), UpdateSecretInput(key="B")],
        ).data
        self.assertEqual(sorted(s.name for s in updated.associated_secrets), ["A", "B"])
        secrets = {s.name: s for s in self.admin.secrets.list(secret_group_id=group.id, with_value=True)}
        self.assertEqual((secrets["A"].value, secrets["B"].value), ("a2", "b1"))
        self.assertEqual([v.version for v in secrets["A"].secret_versions], [1, 2])
        self.assertEqual([v.version for v in secrets["B"].secret_versions], [1])

        with self.assertRaises(BadRequestError):
            self.admin.secret_groups.update(group.id, secrets=[])
        with self.assertRaises(UnprocessableEntityError) as caught:
            self.admin.secret_groups.update(group.id, secrets=[UpdateSecretInput(key="NEW")])
        self.assertHttpError(caught.exception, 422)
        with self.assertRaises(ForbiddenError):
            self.emulator.client(VIEWER).secret_groups.update(group.id, secrets=[UpdateSecretInput(key="A")])
        with self.assertRaises(NotFoundError):
            self.admin.secret_groups.update("no-such-group", secrets=[UpdateSecretInput(key="A", value="x")])

    def test_a_value_over_the_stores_limit_is_refused_by_position(self):
        group = self.group("limited", secrets=(("A", "a1"),))
        too_long = "x" * (64 * 1024 + 1)
        with self.assertRaises(UnprocessableEntityError) as caught:
            self.admin.secret_groups.update(
                group.id, secrets=[UpdateSecretInput(key="A"), UpdateSecretInput(key="B", value=too_long)]
            )
        body = self.assertHttpError(caught.exception, 422)
        self.assertEqual(body.details[0]["field"], "secrets[1].value")
        self.assertNotIn(too_long, str(caught.exception.body))

    def test_an_editor_collaborator_updates_but_does_not_delete_the_group(self):
        group = self.group("edited", collaborators=[(EDITOR_SUBJECT, "secret-group-editor")])
        editor = self.emulator.client(EDITOR)
        editor.secret_groups.update(group.id, secrets=[UpdateSecretInput(key="A", value="by-editor")])
        self.assertEqual(
            [s.value for s in editor.secrets.list(secret_group_id=group.id, with_value=True)], ["by-editor"]
        )
        with self.assertRaises(ForbiddenError):
            editor.secret_groups.delete(group.id)

    def test_delete_with_and_without_force(self):
        for force in (None, False, True):
            group = self.group(f"deleted-{force}")
            answer = self.admin.secret_groups.delete(group.id, force_delete=force)
            self.assertIsInstance(answer, DeleteSecretGroupResponse)
            with self.assertRaises(NotFoundError):
                self.admin.secret_groups.get(group.id)
        with self.assertRaises(NotFoundError):
            self.admin.secret_groups.delete("no-such-group")

    # ---- secrets ----

    def test_list_secrets_with_and_without_values_and_filters(self):
        group = self.group(
            "listed",
            secrets=[(f"K{i:02}", f"v{i}") for i in range(12)],
            collaborators=[(VIEWER_SUBJECT, "secret-group-viewer")],
        )
        bare = self.admin.secrets.list(secret_group_id=group.id, limit=5)
        self.assertEqual(bare.response.pagination.total, 12)
        bare = list(bare)
        self.assertEqual([s.name for s in bare], [f"K{i:02}" for i in range(12)])
        self.assertTrue(all(isinstance(s, Secret) and s.value is None for s in bare))
        self.assertTrue(all(s.secret_group_id == group.id for s in bare))

        valued = list(self.admin.secrets.list(secret_group_id=group.id, with_value=True, limit=5))
        self.assertEqual({s.name: s.value for s in valued}, {f"K{i:02}": f"v{i}" for i in range(12)})

        fqns = [bare[0].fqn, bare[3].fqn]
        by_fqn = list(self.admin.secrets.list(secret_fqns=fqns))
        self.assertEqual(sorted(s.fqn for s in by_fqn), sorted(fqns))

        with self.assertRaises(ForbiddenError):
            list(self.emulator.client(VIEWER).secrets.list(secret_group_id=group.id, with_value=True))
        with self.assertRaises(NotFoundError):
            list(self.admin.secrets.list(secret_group_id="no-such-group"))

    def test_get_one_secret_reads_its_value_and_versions(self):
        group = self.group(
            "got-one", secrets=[("TOKEN", "t1")], collaborators=[(VIEWER_SUBJECT, "secret-group-viewer")]
        )
        self.admin.secret_groups.update(group.id, secrets=[UpdateSecretInput(key="TOKEN", value="t2")])
        secret_id = group.associated_secrets[0].id
        secret = self.admin.secrets.get(secret_id).data
        self.assertEqual((secret.name, secret.value), ("TOKEN", "t2"))
        self.assertEqual([v.version for v in secret.secret_versions], [1, 2])
        self.assertTrue(all(v.value is None for v in secret.secret_versions))
        with self.assertRaises(ForbiddenError):
            self.emulator.client(VIEWER).secrets.get(secret_id)
        with self.assertRaises(NotFoundError):
            self.admin.secrets.get("no-such-secret")

    def test_active_deployments_are_counted(self):
        group = self.group(IN_USE_GROUP, secrets=[("USED", "u"), ("FREE", "f")])
        counts = {s.name: s.active_deployments_count for s in self.admin.secrets.list(secret_group_id=group.id)}
        self.assertEqual(counts, {"USED": 2, "FREE": 0})

    def test_delete_one_secret_answers_a_count(self):
        group = self.group("one-deleted", secrets=[("GONE", "g"), ("KEPT", "k")])
        gone = next(s for s in group.associated_secrets if s.name == "GONE")
        for force in (None, True):
            if force:
                gone = self.group("one-deleted-forced", secrets=[("GONE", "g")]).associated_secrets[0]
            count = self.admin.secrets.delete(gone.id, force_delete=force)
            self.assertEqual(count, 1)
            with self.assertRaises(NotFoundError):
                self.admin.secrets.get(gone.id)
        left = [s.name for s in self.admin.secret_groups.get(group.id).data.associated_secrets]
        self.assertEqual(left, ["KEPT"])
        with self.assertRaises(NotFoundError):
            self.admin.secrets.delete("no-such-secret")


class SdkPinned(unittest.TestCase):
    def test_the_sdk_is_the_pinned_version(self):
        expected = os.environ["TFY_SDK_VERSION"]
        from truefoundry_sdk.version import __version__

        self.assertEqual(__version__, expected)
        self.assertTrue(truefoundry_sdk.__file__)
        self.assertTrue(httpx.__version__)


if __name__ == "__main__":
    unittest.main()
