//! Outbound authentication against local servers that check what real ones
//! check: an OAuth token endpoint and a TLS server requiring a client
//! certificate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use conflux_connector_api::ConnectorError;
use conflux_connectors::auth::{Authentication, Authenticator, ClientFactory, Clock, SystemClock};
use serde_json::{json, Value};

const CLIENT_SECRET: &str = "client-Secret-Value-42";

struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("clock");
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock")
    }
}

#[derive(Clone, Default)]
struct Issued(Arc<AtomicUsize>);

/// A v1 token endpoint: checks the grant, client and resource like Entra ID.
async fn token(
    State(issued): State<Issued>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    if tenant != "tenant-1" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "invalid_tenant"})),
        );
    }
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("grant_type") != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        );
    }
    if field("client_id") != Some("app-1") || field("client_secret") != Some(CLIENT_SECRET) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(
                json!({"error": "invalid_client", "error_description": "Invalid client secret provided."}),
            ),
        );
    }
    if field("resource") != Some("https://api.example/") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_resource"})),
        );
    }
    let n = issued.0.fetch_add(1, Ordering::SeqCst) + 1;
    (
        StatusCode::OK,
        Json(
            json!({"token_type": "Bearer", "expires_in": "3600", "access_token": format!("token-{n}")}),
        ),
    )
}

async fn echo(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Json<Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Json(
        json!({"authorization": header("authorization"), "x-api-key": header("x-api-key"), "query": query}),
    )
}

async fn serve() -> (SocketAddr, Issued) {
    let issued = Issued::default();
    let app = Router::new()
        .route("/{tenant}/oauth2/token", post(token))
        .route("/echo", get(echo))
        .with_state(issued.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (addr, issued)
}

fn plain_factory() -> ClientFactory {
    Arc::new(reqwest::Client::builder)
}

async fn call(
    auth: &Authenticator,
    authentication: &Value,
    url: &str,
) -> Result<Value, ConnectorError> {
    let parsed = Authentication::parse(authentication).expect("valid authentication");
    let response = auth
        .request(Some(&parsed), reqwest::Method::GET, url)
        .await?
        .send()
        .await
        .expect("send");
    Ok(response.json().await.expect("json"))
}

#[tokio::test]
async fn oauth_tokens_are_requested_once_and_renewed_before_expiry() {
    let (addr, issued) = serve().await;
    let clock = Arc::new(ManualClock(Mutex::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )));
    let auth = Authenticator::new(plain_factory(), clock.clone()).expect("authenticator");
    let oauth = json!({
        "type": "ActiveDirectoryOAuth", "authority": format!("http://{addr}/"), "tenant": "tenant-1",
        "audience": "https://api.example/", "clientId": "app-1", "secret": CLIENT_SECRET
    });
    let url = format!("http://{addr}/echo");
    let first = call(&auth, &oauth, &url).await.expect("first call");
    let second = call(&auth, &oauth, &url).await.expect("second call");
    assert_eq!(first["authorization"], json!("Bearer token-1"));
    assert_eq!(second["authorization"], json!("Bearer token-1"));
    assert_eq!(
        issued.0.load(Ordering::SeqCst),
        1,
        "the second call reuses the cached token"
    );

    clock.advance(Duration::from_secs(3_400)); // inside the five-minute renewal margin
    let third = call(&auth, &oauth, &url).await.expect("third call");
    assert_eq!(third["authorization"], json!("Bearer token-2"));
    assert_eq!(issued.0.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_rejected_client_secret_is_unauthorized_and_not_echoed() {
    let (addr, _) = serve().await;
    let auth = Authenticator::new(plain_factory(), Arc::new(SystemClock)).expect("authenticator");
    let wrong = "Wrong-Secret-Value-99";
    let oauth = json!({
        "type": "ActiveDirectoryOAuth", "authority": format!("http://{addr}"), "tenant": "tenant-1",
        "audience": "https://api.example/", "clientId": "app-1", "secret": wrong
    });
    let err = call(&auth, &oauth, &format!("http://{addr}/echo"))
        .await
        .expect_err("rejected");
    assert!(
        matches!(err, ConnectorError::Unauthorized { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert!(!err.to_string().contains(wrong));
}

#[tokio::test]
async fn basic_raw_and_api_keys_are_sent_where_they_belong() {
    let (addr, _) = serve().await;
    let auth = Authenticator::new(plain_factory(), Arc::new(SystemClock)).expect("authenticator");
    let url = format!("http://{addr}/echo");
    let basic = call(
        &auth,
        &json!({"type": "Basic", "username": "ada", "password": "pw"}),
        &url,
    )
    .await
    .expect("basic");
    assert_eq!(basic["authorization"], json!("Basic YWRhOnB3"));
    let raw = call(&auth, &json!({"type": "Raw", "value": "Token abc"}), &url)
        .await
        .expect("raw");
    assert_eq!(raw["authorization"], json!("Token abc"));
    let header = call(
        &auth,
        &json!({"type": "ApiKey", "name": "x-api-key", "value": "k1"}),
        &url,
    )
    .await
    .expect("header");
    assert_eq!(header["x-api-key"], json!("k1"));
    let query = call(
        &auth,
        &json!({"type": "ApiKey", "name": "code", "in": "query", "value": "k 2"}),
        &url,
    )
    .await
    .expect("query");
    assert_eq!(query["query"], json!({"code": "k 2"}));
    let msi =
        Authentication::parse(&json!({"type": "ManagedServiceIdentity", "audience": "https://x/"}))
            .expect("msi");
    let err = auth
        .request(Some(&msi), reqwest::Method::GET, &url)
        .await
        .expect_err("no identity source");
    assert!(matches!(err, ConnectorError::Unauthorized { .. }));
}

mod mtls {
    use super::*;
    use base64::Engine as _;
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Pki {
        ca_pem: String,
        server: (rcgen::Certificate, KeyPair),
        client_pfx_base64: String,
        ca_der: Vec<u8>,
    }

    fn pki() -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Conflux Test CA");
        let ca =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");

        let server_key = KeyPair::generate().expect("key");
        let server = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .signed_by(&server_key, &ca)
            .expect("server");

        let client_key = KeyPair::generate().expect("key");
        let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        client_params
            .distinguished_name
            .push(DnType::CommonName, "conflux-client");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params.signed_by(&client_key, &ca).expect("client");

        let key = p12_keystore::PrivateKey::from_der(&client_key.serialize_der()).expect("pkcs8");
        let certs = [
            p12_keystore::Certificate::from_der(client.der()).expect("cert"),
            p12_keystore::Certificate::from_der(ca.der()).expect("ca cert"),
        ];
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            "client",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
                vec![1u8],
                key,
                certs,
            )),
        );
        let pfx = store.writer("pfx-Pass-7").write().expect("pfx");
        Pki {
            ca_pem: ca.pem(),
            ca_der: ca.der().to_vec(),
            server: (server, server_key),
            client_pfx_base64: base64::engine::general_purpose::STANDARD.encode(pfx),
        }
    }

    /// A TLS server that requires a client certificate signed by the CA and
    /// answers with the subject it saw.
    async fn tls_server(pki: &Pki) -> SocketAddr {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca_der.clone().into()).expect("root");
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .expect("verifier");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server.1.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![pki.server.0.der().clone()], key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let certs = tls.get_ref().1.peer_certificates().map_or(0, <[_]>::len);
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = format!("{{\"clientCertificates\": {certs}}}");
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn client_certificate_from_pfx_completes_mutual_tls() {
        let pki = pki();
        let addr = tls_server(&pki).await;
        let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("ca");
        let factory: ClientFactory = Arc::new(move || {
            reqwest::Client::builder()
                .use_rustls_tls()
                .add_root_certificate(ca.clone())
        });
        let auth = Authenticator::new(factory, Arc::new(SystemClock)).expect("authenticator");
        let url = format!("https://localhost:{}/", addr.port());

        let with_cert = json!({"type": "ClientCertificate", "pfx": pki.client_pfx_base64, "password": "pfx-Pass-7"});
        let answer = call(&auth, &with_cert, &url).await.expect("mutual TLS");
        assert_eq!(answer, json!({"clientCertificates": 2}));

        let without = auth
            .request(None, reqwest::Method::GET, &url)
            .await
            .expect("request")
            .send()
            .await;
        assert!(without.is_err(), "the server requires a client certificate");

        let wrong = Authentication::parse(&json!({"type": "ClientCertificate", "pfx": pki.client_pfx_base64, "password": "nope-Pass"}))
            .expect("parse");
        let err = auth
            .request(Some(&wrong), reqwest::Method::GET, &url)
            .await
            .expect_err("wrong password");
        assert!(
            matches!(err, ConnectorError::InvalidInput { .. }),
            "{err:?}"
        );
        assert!(!err.to_string().contains("nope-Pass"));
    }
}
