//! OAuth authorization policies on Request triggers, over real HTTP: bearer
//! tokens from the host's own identity issuer and from an external RS256
//! key set served on 127.0.0.1, against a recording runtime. A refused call
//! must start no run.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use conflux_definition::WorkflowKind;
use conflux_engine::{Clock, ManualClock};
use conflux_security::identity::{IdentityIssuer, IdentityRef};
use conflux_server::{Host, HostOptions, StartRequest, WorkflowSpec};
use conflux_store::Store;
use serde_json::{json, Value};
use tokio::sync::mpsc;

mod host_support;
mod trigger_support;
use host_support::{memory_store, Served};
use trigger_support::RecordingRuntime;

/// Signs RS256 tokens with the security crate's throw-away test key.
#[path = "../../conflux-security/tests/rsa_signer/mod.rs"]
mod rsa_signer;

const ISSUER: &str = "https://conflux.test";
const ENTRA: &str = "https://sts.windows.net/tenant/";

struct Fixture {
    host: Served,
    started: mpsc::UnboundedReceiver<StartRequest>,
    issuer: IdentityIssuer,
    clock: Arc<ManualClock>,
}

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A workflow document with one Request trigger.
fn workflow_doc(access_control: &Value, operation_options: Option<&str>) -> Value {
    let mut trigger = json!({"type": "Request", "kind": "Http", "inputs": {"method": "POST"}});
    if let Some(options) = operation_options {
        trigger["operationOptions"] = json!(options);
    }
    json!({
        "definition": {
            "triggers": {"manual": trigger},
            "actions": {"Noop": {"type": "Compose", "inputs": 1}}
        },
        "kind": "Stateful",
        "accessControl": access_control
    })
}

fn spec(name: &str, doc: Value) -> WorkflowSpec {
    host_support::spec(name, WorkflowKind::Stateful, doc)
}

fn options(
    store: Arc<dyn Store>,
    started: mpsc::UnboundedSender<StartRequest>,
    workflows: Vec<WorkflowSpec>,
    issuer: &IdentityIssuer,
    settings: HashMap<String, String>,
    clock: Arc<ManualClock>,
) -> HostOptions {
    let runtime = Arc::new(RecordingRuntime {
        store: store.clone(),
        started,
    });
    HostOptions {
        app_settings: settings,
        clock,
        jwks: Some(issuer.jwks()),
        ..host_support::options(runtime, store, workflows)
    }
}

async fn fixture(workflows: Vec<(&str, Value)>, settings: HashMap<String, String>) -> Fixture {
    let issuer = IdentityIssuer::generate(ISSUER);
    let clock = Arc::new(ManualClock::new(start_time()));
    let (tx, started) = mpsc::unbounded_channel();
    let specs = workflows
        .into_iter()
        .map(|(name, doc)| spec(name, doc))
        .collect();
    let options = options(
        memory_store().await,
        tx,
        specs,
        &issuer,
        settings,
        clock.clone(),
    );
    Fixture {
        host: host_support::serve(options).await,
        started,
        issuer,
        clock,
    }
}

/// A token of the app `caller` from `issuer`.
fn issue(issuer: &IdentityIssuer, audience: &str, issued: DateTime<Utc>, ttl: Duration) -> String {
    let caller = IdentityRef::SystemAssigned {
        app: "caller".into(),
    };
    let token = issuer.issue(&caller, audience, issued, ttl).unwrap();
    token.access_token.expose().to_string()
}

/// The host with one workflow, `orders`, under `access`.
async fn orders(access: &Value, settings: HashMap<String, String>) -> Fixture {
    fixture(vec![("orders", workflow_doc(access, None))], settings).await
}

/// App settings that name the trusted external key set.
fn trusted_jwks(location: String) -> HashMap<String, String> {
    HashMap::from([("CONFLUX_TRUSTED_JWKS_URL".to_string(), location)])
}

/// A policy trusting tokens of the external provider.
fn entra_policy() -> Value {
    policies(json!({"entra": {"type": "AAD", "claims": [{"name": "iss", "value": ENTRA}]}}))
}

fn policies(policies: Value) -> Value {
    json!({"triggers": {"openAuthenticationPolicies": {"policies": policies}}})
}

fn orders_policy() -> Value {
    policies(json!({
        "conflux-callers": {"type": "AAD", "claims": [
            {"name": "iss", "value": ISSUER},
            {"name": "aud", "value": "api://orders"}
        ]}
    }))
}

impl Fixture {
    fn token(&self, audience: &str) -> String {
        self.token_at(audience, self.clock.now(), Duration::from_secs(3600))
    }

    fn token_at(&self, audience: &str, issued: DateTime<Utc>, ttl: Duration) -> String {
        issue(&self.issuer, audience, issued, ttl)
    }

    /// A token of the external provider, signed with the RSA test key as `kid`.
    fn external_token(&self, kid: &str, iss: &str) -> String {
        rs256(kid, &entra_claims(self.clock.now(), iss))
    }

    fn invoke_url(&self, workflow: &str) -> String {
        format!(
            "{}/api/{workflow}/triggers/manual/invoke?api-version=2022-05-01",
            self.host.base
        )
    }

    /// The signed callback URL of `workflow`.
    fn sas_url(&self, workflow: &str) -> String {
        self.host.callback(workflow)
    }

    async fn call(&self, url: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self
            .host
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(r#"{"order": 7}"#);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        if let Some(token) = token {
            assert!(
                !text.contains(token),
                "the answer repeats the token: {text}"
            );
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The call was refused with `code` and started nothing.
    async fn refused(&mut self, url: &str, token: Option<&str>, status: u16, code: &str) -> String {
        let (got, body) = self.call(url, token).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(
            self.started.try_recv().is_err(),
            "a refused call started a run"
        );
        body["error"]["message"].as_str().unwrap().to_string()
    }

    /// The call with `token` was refused as unauthorized (401) with `code`
    /// and started nothing.
    async fn unauthorized(&mut self, url: &str, token: &str, code: &str) -> String {
        self.refused(url, Some(token), 401, code).await
    }

    async fn accepted(&mut self, url: &str, token: Option<&str>) -> StartRequest {
        let (status, body) = self.call(url, token).await;
        assert_eq!(status, 202, "{body}");
        self.started.try_recv().unwrap()
    }
}

/// A key set with the RSA test key as `kid`.
fn rsa_jwks(kid: &str) -> Value {
    json!({"keys": [rsa_signer::jwk(kid)]})
}

/// An RS256 token as an external identity provider would sign it.
fn rs256(kid: &str, claims: &Value) -> String {
    rsa_signer::sign(&json!({"alg": "RS256", "typ": "JWT", "kid": kid}), claims)
}

fn entra_claims(now: DateTime<Utc>, iss: &str) -> Value {
    json!({"iss": iss, "aud": "api://orders", "tid": "tenant", "roles": ["Orders.Write"],
           "nbf": now.timestamp(), "exp": now.timestamp() + 3600})
}

/// A JWKS endpoint on 127.0.0.1 that counts its fetches; the served
/// document can be replaced (key rollover).
struct KeyServer {
    url: String,
    fetches: Arc<AtomicUsize>,
    document: Arc<Mutex<Value>>,
}

async fn key_server(document: Value) -> KeyServer {
    let fetches = Arc::new(AtomicUsize::new(0));
    let document = Arc::new(Mutex::new(document));
    let (count, served) = (fetches.clone(), document.clone());
    let app = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            let (count, served) = (count.clone(), served.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                let doc = served.lock().unwrap().clone();
                axum::Json(doc)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/keys", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    KeyServer {
        url,
        fetches,
        document,
    }
}

#[tokio::test]
async fn a_token_matching_a_policy_starts_a_run_and_a_wrong_audience_does_not() {
    let mut f = orders(&orders_policy(), HashMap::new()).await;
    let url = f.invoke_url("orders");

    let run = f.accepted(&url, Some(&f.token("api://orders"))).await;
    assert_eq!(run.workflow, "orders");
    assert_eq!(run.trigger_outputs.built().to_json()["body"]["order"], 7);
    // Without IncludeAuthorizationHeadersInOutputs the token stays out of the run.
    assert!(run.trigger_outputs.built().to_json()["headers"]
        .get("Authorization")
        .is_none());

    let message = f
        .unauthorized(&url, &f.token("api://payments"), "MisMatchingOAuthClaims")
        .await;
    assert!(
        message.contains("policy 'conflux-callers': `aud` differs"),
        "{message}"
    );
    assert!(
        !message.contains("api://orders"),
        "policy values are not disclosed: {message}"
    );

    // Neither scheme: refused as before.
    f.refused(&url, None, 401, "AuthorizationFailed").await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let mut f = orders(&orders_policy(), HashMap::new()).await;
    let url = f.invoke_url("orders");
    let now = f.clock.now();
    let expired = f.token_at(
        "api://orders",
        now - chrono::Duration::hours(2),
        Duration::from_secs(3600),
    );
    let message = f
        .unauthorized(&url, &expired, "ExpiredAuthenticationToken")
        .await;
    assert!(message.contains("expired"), "{message}");
    let early = f.token_at(
        "api://orders",
        now + chrono::Duration::hours(1),
        Duration::from_secs(3600),
    );
    f.unauthorized(&url, &early, "AuthenticationTokenNotYetValid")
        .await;
    // The clock reaching its validity makes the same token good.
    f.clock.advance(Duration::from_secs(3600));
    f.accepted(&url, Some(&early)).await;
}

#[tokio::test]
async fn tokens_with_bad_signatures_are_refused() {
    let mut f = orders(&orders_policy(), HashMap::new()).await;
    let url = f.invoke_url("orders");

    // Same issuer URL, another key: the key is not trusted.
    let foreign = issue(
        &IdentityIssuer::generate(ISSUER),
        "api://orders",
        f.clock.now(),
        Duration::from_secs(3600),
    );
    let message = f
        .unauthorized(&url, &foreign, "InvalidAuthenticationTokenSignature")
        .await;
    assert!(message.contains("no trusted key"), "{message}");

    // The host's key signed other claims: the audience was swapped afterwards.
    let genuine = f.token("api://payments");
    let parts: Vec<&str> = genuine.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["aud"] = json!("api://orders");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let message = f
        .unauthorized(&url, &forged, "InvalidAuthenticationTokenSignature")
        .await;
    assert!(message.contains("signature does not verify"), "{message}");

    f.unauthorized(&url, "not-a-jwt", "InvalidAuthenticationToken")
        .await;
}

#[tokio::test]
async fn a_token_matching_the_second_of_two_policies_passes() {
    let access = policies(json!({
        "partners": {"type": "AAD", "claims": [
            {"name": "Issuer", "value": ENTRA},
            {"name": "Audience", "value": "api://orders"}
        ]},
        "internal": {"type": "AAD", "claims": [
            {"name": "Issuer", "value": ISSUER},
            {"name": "Audience", "value": "api://internal"}
        ]}
    }));
    let mut f = orders(&access, HashMap::new()).await;
    let url = f.invoke_url("orders");
    f.accepted(&url, Some(&f.token("api://internal"))).await;
    let message = f
        .unauthorized(&url, &f.token("api://other"), "MisMatchingOAuthClaims")
        .await;
    assert!(
        message.contains("policy 'partners': `iss` differs, `aud` differs"),
        "{message}"
    );
    assert!(
        message.contains("policy 'internal': `aud` differs"),
        "{message}"
    );
}

#[tokio::test]
async fn sas_still_works_alongside_and_both_schemes_at_once_are_refused() {
    let mut f = fixture(
        vec![
            ("orders", workflow_doc(&orders_policy(), None)),
            ("plain", workflow_doc(&json!({}), None)),
        ],
        HashMap::new(),
    )
    .await;
    let sas = f.sas_url("orders");
    let run = f.accepted(&sas, None).await;
    assert_eq!(run.workflow, "orders");

    let token = f.token("api://orders");
    let message = f
        .refused(&sas, Some(&token), 400, "MultipleAuthorizationSchemes")
        .await;
    assert!(message.contains("one scheme per call"), "{message}");

    // Without policies the Authorization header is just a header: SAS decides.
    let plain = f.sas_url("plain");
    f.accepted(&plain, Some(&token)).await;
    let unsigned = f.invoke_url("plain");
    let message = f
        .unauthorized(&unsigned, &token, "AuthorizationFailed")
        .await;
    assert!(
        message.contains("no OAuth authorization policies"),
        "{message}"
    );
}

#[tokio::test]
async fn with_sas_disabled_only_tokens_are_accepted() {
    let mut access = orders_policy();
    access["triggers"]["sasAuthenticationPolicy"] = json!({"state": "Disabled"});
    let mut f = orders(&access, HashMap::new()).await;
    let sas = f.sas_url("orders");
    let message = f
        .refused(&sas, None, 401, "SasAuthenticationDisabled")
        .await;
    assert!(message.contains("Bearer"), "{message}");
    f.accepted(&f.invoke_url("orders"), Some(&f.token("api://orders")))
        .await;
}

#[tokio::test]
async fn include_authorization_headers_keeps_the_token_in_trigger_outputs() {
    let doc = workflow_doc(
        &orders_policy(),
        Some("IncludeAuthorizationHeadersInOutputs"),
    );
    let mut f = fixture(vec![("orders", doc)], HashMap::new()).await;
    let token = f.token("api://orders");
    let run = f.accepted(&f.invoke_url("orders"), Some(&token)).await;
    assert_eq!(
        run.trigger_outputs.built().to_json()["headers"]["Authorization"],
        format!("Bearer {token}")
    );
}

#[tokio::test]
async fn an_external_rs256_key_set_is_fetched_once_and_refreshed_for_new_keys() {
    let keys = key_server(rsa_jwks("k1")).await;
    let access = policies(json!({
        "entra": {"type": "AAD", "claims": [
            {"name": "iss", "value": ENTRA},
            {"name": "aud", "value": "api://orders"},
            {"name": "roles", "value": "Orders.Write"}
        ]}
    }));
    let mut f = orders(&access, trusted_jwks(keys.url.clone())).await;
    let url = f.invoke_url("orders");
    assert_eq!(
        keys.fetches.load(Ordering::SeqCst),
        0,
        "fetched when first needed"
    );

    f.accepted(&url, Some(&f.external_token("k1", ENTRA))).await;
    f.accepted(&url, Some(&f.external_token("k1", ENTRA))).await;
    assert_eq!(
        keys.fetches.load(Ordering::SeqCst),
        1,
        "the key set is cached"
    );

    // An external key may not vouch for the host's own issuer.
    let impostor = f.external_token("k1", ISSUER);
    f.unauthorized(&url, &impostor, "InvalidAuthenticationTokenSignature")
        .await;

    // Key rollover: the provider now publishes the key as `k2`. Right after
    // a fetch the unknown key does not fetch again...
    *keys.document.lock().unwrap() = rsa_jwks("k2");
    let rolled = f.external_token("k2", ENTRA);
    f.unauthorized(&url, &rolled, "InvalidAuthenticationTokenSignature")
        .await;
    assert_eq!(keys.fetches.load(Ordering::SeqCst), 1);
    // ...a few minutes later it does, and the new key is trusted.
    f.clock.advance(Duration::from_secs(6 * 60));
    f.accepted(&url, Some(&rolled)).await;
    assert_eq!(keys.fetches.load(Ordering::SeqCst), 2);
    // The old kid is gone from the provider's set.
    let old = f.external_token("k1", ENTRA);
    f.unauthorized(&url, &old, "InvalidAuthenticationTokenSignature")
        .await;

    // Tokens from the host's own issuer are still checked against its own keys.
    let own = f.token("api://orders");
    let message = f.unauthorized(&url, &own, "MisMatchingOAuthClaims").await;
    assert!(message.contains("`iss` differs"), "{message}");
}

#[tokio::test]
async fn an_unreachable_key_set_is_reported_as_unavailable() {
    // A port that was just free: nothing answers there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/keys", listener.local_addr().unwrap());
    drop(listener);
    let mut f = orders(&entra_policy(), trusted_jwks(dead)).await;
    let token = f.external_token("k1", ENTRA);
    let message = f
        .refused(
            &f.invoke_url("orders"),
            Some(&token),
            503,
            "TrustedKeysUnavailable",
        )
        .await;
    assert!(message.contains("could not be fetched"), "{message}");
}

#[tokio::test]
async fn a_key_set_file_is_read_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, rsa_jwks("file-key").to_string()).unwrap();
    let mut f = orders(&entra_policy(), trusted_jwks(path.display().to_string())).await;
    let token = f.external_token("file-key", ENTRA);
    f.accepted(&f.invoke_url("orders"), Some(&token)).await;
}

#[tokio::test]
async fn invalid_policies_and_key_sets_stop_the_start() {
    let store = memory_store().await;
    let issuer = IdentityIssuer::generate(ISSUER);
    let clock = Arc::new(ManualClock::new(start_time()));
    let (tx, _rx) = mpsc::unbounded_channel();
    let no_issuer =
        policies(json!({"p": {"type": "AAD", "claims": [{"name": "aud", "value": "x"}]}}));
    let err = Host::start(options(
        store.clone(),
        tx.clone(),
        vec![spec("orders", workflow_doc(&no_issuer, None))],
        &issuer,
        HashMap::new(),
        clock.clone(),
    ))
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("openAuthenticationPolicies.policies.p.claims must include the issuer"),
        "{err}"
    );

    let settings = trusted_jwks("/nonexistent/jwks.json".to_string());
    let err = Host::start(options(store, tx, vec![], &issuer, settings, clock))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("CONFLUX_TRUSTED_JWKS_URL"), "{err}");
}
