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

/// ActiveDirectoryOAuth with a certificate credential, against a token
/// endpoint that checks the client assertion the way Entra ID does.
mod certificate_credential {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    /// A test-only PFX with an RSA key, and its certificate (see fixtures/README.md).
    const PFX_BASE64: &str = include_str!("fixtures/oauth-client.pfx.b64");
    const PFX_PASSWORD: &str = "assertion-Pfx-Pass-3";
    const CERT_PEM: &str = include_str!("fixtures/oauth-client.crt.pem");
    const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    fn fixture_cert_der() -> Vec<u8> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(CERT_PEM.as_bytes()).expect("pem");
        pem.contents
    }

    /// Checks the signature of a JWT with the public key of `cert_der` and
    /// its `x5t` / `x5t#S256` against the certificate; returns the claims.
    fn verify_assertion(jwt: &str, cert_der: &[u8]) -> Result<Value, String> {
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header, claims, signature] = parts[..] else {
            return Err("not a three-part JWT".into());
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string());
        let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
        if header["alg"] != "RS256" || header["typ"] != "JWT" {
            return Err(format!("unexpected header {header}"));
        }
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der);
        if header["x5t"] != URL_SAFE_NO_PAD.encode(sha1) {
            return Err("x5t does not match the registered certificate".into());
        }
        let sha256 = ring::digest::digest(&ring::digest::SHA256, cert_der);
        if header["x5t#S256"] != URL_SAFE_NO_PAD.encode(sha256) {
            return Err("x5t#S256 does not match the registered certificate".into());
        }
        let (_, cert) = x509_parser::parse_x509_certificate(cert_der).map_err(|e| e.to_string())?;
        let public_key = &cert.public_key().subject_public_key.data;
        let signed = &jwt[..jwt.rfind('.').expect("dot")];
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key)
            .verify(signed.as_bytes(), &decode(signature)?)
            .map_err(|_| "the signature does not verify".to_owned())?;
        serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())
    }

    struct Endpoint {
        addr: SocketAddr,
        cert_der: Vec<u8>,
        clock: Arc<ManualClock>,
        issued: AtomicUsize,
        assertions: Mutex<Vec<String>>,
    }

    fn reject(status: StatusCode, error: &str, description: &str) -> (StatusCode, Json<Value>) {
        (
            status,
            Json(json!({"error": error, "error_description": description})),
        )
    }

    /// A v1 and v2 token endpoint that accepts only a client assertion signed
    /// by the registered certificate for client `app-1`.
    async fn token(
        State(endpoint): State<Arc<Endpoint>>,
        Path(tenant): Path<String>,
        uri: axum::http::Uri,
        Form(form): Form<HashMap<String, String>>,
    ) -> (StatusCode, Json<Value>) {
        let field = |name: &str| form.get(name).map(String::as_str);
        if field("grant_type") != Some("client_credentials") {
            return reject(StatusCode::BAD_REQUEST, "unsupported_grant_type", "");
        }
        if field("client_assertion_type") != Some(JWT_BEARER) || form.contains_key("client_secret")
        {
            return reject(StatusCode::BAD_REQUEST, "invalid_request", "assertion type");
        }
        let Some(assertion) = field("client_assertion") else {
            return reject(StatusCode::BAD_REQUEST, "invalid_request", "no assertion");
        };
        endpoint
            .assertions
            .lock()
            .expect("assertions")
            .push(assertion.to_owned());
        let claims = match verify_assertion(assertion, &endpoint.cert_der) {
            Ok(claims) => claims,
            Err(why) => return reject(StatusCode::UNAUTHORIZED, "invalid_client", &why),
        };
        if tenant != "tenant-1" {
            return reject(StatusCode::NOT_FOUND, "invalid_tenant", "");
        }
        let v2 = uri.path().ends_with("/v2.0/token");
        let url = format!("http://{}{}", endpoint.addr, uri.path());
        let now = endpoint
            .clock
            .now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("epoch")
            .as_secs();
        let number = |name: &str| claims[name].as_u64().unwrap_or(0);
        let checks = [
            (claims["aud"] == url.as_str(), "aud is not this endpoint"),
            (field("client_id") == Some("app-1"), "unknown client"),
            (claims["iss"] == "app-1", "iss is not the client"),
            (claims["sub"] == "app-1", "sub is not the client"),
            (number("nbf") <= now, "not yet valid"),
            (number("exp") > now, "expired"),
            (number("exp") - number("nbf") <= 600, "valid too long"),
            (
                claims["jti"]
                    .as_str()
                    .is_some_and(|j| uuid::Uuid::parse_str(j).is_ok()),
                "no jti",
            ),
        ];
        if let Some((_, why)) = checks.iter().find(|(ok, _)| !ok) {
            return reject(StatusCode::UNAUTHORIZED, "invalid_client", why);
        }
        let target = if v2 {
            field("scope") == Some("api://app-2/.default") && !form.contains_key("resource")
        } else {
            field("resource") == Some("https://api.example/") && !form.contains_key("scope")
        };
        if !target {
            return reject(StatusCode::BAD_REQUEST, "invalid_resource", "");
        }
        let n = endpoint.issued.fetch_add(1, Ordering::SeqCst) + 1;
        (
            StatusCode::OK,
            Json(
                json!({"token_type": "Bearer", "expires_in": 3600, "access_token": format!("cert-token-{n}")}),
            ),
        )
    }

    async fn serve_with(cert_der: Vec<u8>, clock: Arc<ManualClock>) -> Arc<Endpoint> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = Arc::new(Endpoint {
            addr: listener.local_addr().expect("addr"),
            cert_der,
            clock,
            issued: AtomicUsize::new(0),
            assertions: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/{tenant}/oauth2/token", post(token))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/echo", get(echo))
            .with_state(endpoint.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        endpoint
    }

    fn clock_now() -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(SystemTime::now())))
    }

    fn certificate_oauth(endpoint: &Endpoint, audience: &str, pfx: &str, password: &str) -> Value {
        json!({
            "type": "ActiveDirectoryOAuth", "authority": format!("http://{}", endpoint.addr),
            "tenant": "tenant-1", "audience": audience, "clientId": "app-1",
            "pfx": pfx, "password": password
        })
    }

    /// An endpoint where the fixture certificate is registered, an
    /// authenticator sharing its clock, and the authentication for `audience`
    /// with the fixture PFX.
    async fn setup(audience: &str) -> (Arc<ManualClock>, Arc<Endpoint>, Authenticator, Value) {
        let clock = clock_now();
        let endpoint = serve_with(fixture_cert_der(), clock.clone()).await;
        let auth = Authenticator::new(plain_factory(), clock.clone()).expect("authenticator");
        let oauth = certificate_oauth(&endpoint, audience, PFX_BASE64.trim(), PFX_PASSWORD);
        (clock, endpoint, auth, oauth)
    }

    #[tokio::test]
    async fn a_signed_assertion_gets_a_token_that_is_cached_and_renewed() {
        let (clock, endpoint, auth, oauth) = setup("https://api.example/").await;
        let url = format!("http://{}/echo", endpoint.addr);

        let first = call(&auth, &oauth, &url).await.expect("first call");
        let second = call(&auth, &oauth, &url).await.expect("second call");
        assert_eq!(first["authorization"], json!("Bearer cert-token-1"));
        assert_eq!(second["authorization"], json!("Bearer cert-token-1"));
        assert_eq!(
            endpoint.issued.load(Ordering::SeqCst),
            1,
            "the second call reuses the cached token"
        );

        clock.advance(Duration::from_secs(3_400)); // inside the renewal margin
        let third = call(&auth, &oauth, &url).await.expect("third call");
        assert_eq!(third["authorization"], json!("Bearer cert-token-2"));
        let assertions = endpoint.assertions.lock().expect("assertions").clone();
        assert_eq!(assertions.len(), 2);
        let cert = fixture_cert_der();
        let jti = |jwt: &str| verify_assertion(jwt, &cert).expect("valid")["jti"].clone();
        assert_ne!(
            jti(&assertions[0]),
            jti(&assertions[1]),
            "a fresh jti each time"
        );
    }

    #[tokio::test]
    async fn a_v2_scope_audience_uses_the_v2_endpoint_with_a_matching_aud() {
        let (_, endpoint, auth, oauth) = setup("api://app-2/.default").await;
        let answer = call(&auth, &oauth, &format!("http://{}/echo", endpoint.addr))
            .await
            .expect("v2 call");
        assert_eq!(answer["authorization"], json!("Bearer cert-token-1"));
        let assertions = endpoint.assertions.lock().expect("assertions").clone();
        let claims = verify_assertion(&assertions[0], &fixture_cert_der()).expect("valid");
        assert_eq!(
            claims["aud"],
            json!(format!(
                "http://{}/tenant-1/oauth2/v2.0/token",
                endpoint.addr
            ))
        );
    }

    #[tokio::test]
    async fn the_verifier_rejects_tampered_assertions_and_other_certificates() {
        let (clock, endpoint, auth, oauth) = setup("https://api.example/").await;
        call(&auth, &oauth, &format!("http://{}/echo", endpoint.addr))
            .await
            .expect("genuine assertion");
        let genuine = endpoint.assertions.lock().expect("assertions")[0].clone();
        let cert = fixture_cert_der();
        verify_assertion(&genuine, &cert).expect("the genuine assertion verifies");

        let (signed, signature) = genuine.rsplit_once('.').expect("three parts");
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
        bytes[10] ^= 0x01;
        let flipped = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(
            verify_assertion(&flipped, &cert),
            Err("the signature does not verify".to_owned())
        );

        let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("claims"))
                .expect("json");
        claims["sub"] = json!("app-2");
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert_eq!(
            verify_assertion(&parts.join("."), &cert),
            Err("the signature does not verify".to_owned())
        );

        // An endpoint where another certificate is registered refuses the
        // client, and the error says why without any credential in it.
        let other = rcgen::generate_simple_self_signed(vec!["other".to_owned()]).expect("cert");
        let elsewhere = serve_with(other.cert.der().to_vec(), clock.clone()).await;
        let mismatched = certificate_oauth(
            &elsewhere,
            "https://api.example/",
            PFX_BASE64.trim(),
            PFX_PASSWORD,
        );
        let err = call(
            &auth,
            &mismatched,
            &format!("http://{}/echo", elsewhere.addr),
        )
        .await
        .expect_err("another certificate is registered");
        assert!(
            matches!(err, ConnectorError::Unauthorized { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("invalid_client"), "{err}");
        assert!(!err.to_string().contains(PFX_PASSWORD));
        assert_eq!(elsewhere.issued.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_wrong_password_or_an_ec_key_fails_clearly_before_any_request() {
        let (_, endpoint, auth, _) = setup("https://api.example/").await;
        let url = format!("http://{}/echo", endpoint.addr);

        let wrong = certificate_oauth(
            &endpoint,
            "https://api.example/",
            PFX_BASE64.trim(),
            "Not-The-Pfx-Pass",
        );
        let err = call(&auth, &wrong, &url).await.expect_err("wrong password");
        assert!(
            matches!(err, ConnectorError::InvalidInput { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("password is wrong"), "{err}");
        assert!(!err.to_string().contains("Not-The-Pfx-Pass"));

        let key = rcgen::KeyPair::generate().expect("P-256 key");
        let cert = rcgen::CertificateParams::new(vec!["ec-client".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            "client",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
                vec![1u8],
                p12_keystore::PrivateKey::from_der(&key.serialize_der()).expect("pkcs8"),
                [p12_keystore::Certificate::from_der(cert.der()).expect("cert")],
            )),
        );
        let pfx = STANDARD.encode(store.writer("ec-Pass-1").write().expect("pfx"));
        let ec = certificate_oauth(&endpoint, "https://api.example/", &pfx, "ec-Pass-1");
        let err = call(&auth, &ec, &url).await.expect_err("EC key");
        assert!(
            matches!(err, ConnectorError::InvalidInput { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        for expected in ["ActiveDirectoryOAuth", "RSA", "EC key"] {
            assert!(text.contains(expected), "{text}");
        }
        assert!(endpoint.assertions.lock().expect("assertions").is_empty());
    }
}
