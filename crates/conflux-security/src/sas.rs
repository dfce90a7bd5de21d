//! Shared-access signatures for callback URLs and content links.
//!
//! A signature is HMAC-SHA256, keyed with one of two access keys, over the
//! signed version, the permissions (`sp`), the expiry (`se`, empty when the URL
//! never expires) and the URL path. Two keys exist so one can be regenerated
//! while callers move to URLs signed with the other; regenerating a key
//! invalidates every URL signed with it.

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{random_bytes, Secret};

/// The only signed-version (`sv`) Conflux issues and accepts.
pub const SAS_VERSION: &str = "1.0";

/// Which access key signs (`KeyType` in listCallbackUrl, `Primary` by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    Primary,
    Secondary,
}

impl KeyType {
    /// Accepts `Primary`/`Secondary` in any letter case.
    pub fn parse(text: &str) -> Option<KeyType> {
        if text.eq_ignore_ascii_case("primary") {
            Some(KeyType::Primary)
        } else if text.eq_ignore_ascii_case("secondary") {
            Some(KeyType::Secondary)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Primary => "Primary",
            KeyType::Secondary => "Secondary",
        }
    }
}

/// What a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SasRequest<'a> {
    /// The URL path the signature is valid for, without any relative path a caller appends.
    pub path: &'a str,
    /// `sp`: the permitted operation, e.g. `/triggers/manual/run`.
    pub permissions: &'a str,
    /// `sv`: the signed version.
    pub version: &'a str,
    /// `se`: the expiry exactly as it appears in the URL.
    pub expiry: Option<&'a str>,
}

/// Why a signature was refused; each message tells the caller what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    #[error("the request has no `sig` query parameter; call the URL returned by listCallbackUrl unchanged")]
    MissingSignature,
    #[error("the request has no `{0}` query parameter; call the URL returned by listCallbackUrl unchanged")]
    MissingParameter(&'static str),
    #[error("signed version `sv={0}` is not supported; use sv=1.0")]
    UnsupportedVersion(String),
    #[error("the expiry `se={0}` is not a valid UTC date-time")]
    InvalidExpiry(String),
    #[error("the URL expired at {0}; get a new one with listCallbackUrl")]
    Expired(String),
    #[error("the signature does not match: the URL was altered or its access key was regenerated; get a new one with listCallbackUrl")]
    Mismatch,
}

/// The two access keys of a Conflux host.
#[derive(Clone)]
pub struct AccessKeys {
    primary: [u8; 32],
    secondary: [u8; 32],
    /// HMAC states already keyed with `primary` and `secondary`: a signature
    /// then costs the hashing of the signed text only, not of the key pads.
    keyed: [HmacSha256; 2],
    /// Names this pair of keys in the per-thread cache of verified
    /// signatures (new keys, new number: nothing verified before counts).
    generation: u64,
}

/// Signatures recently verified on this thread, so a URL called again and
/// again (the common case: one caller, one callback URL) is not hashed on
/// every call. Only signatures that verified are kept, with exactly what
/// they signed and the keys' generation.
struct Verified {
    generation: u64,
    key: KeyType,
    signed: [String; 4],
    sig: SigWords,
}

/// A signature's text (up to 64 bytes: a tag of ours is 43) packed into
/// words, so that the constant-time comparison runs over 8 words rather
/// than over each byte.
#[derive(Clone, Copy)]
struct SigWords {
    len: usize,
    words: [u64; 8],
}

impl SigWords {
    fn of(sig: &str) -> Option<SigWords> {
        let bytes = sig.as_bytes();
        if bytes.len() > 64 {
            return None;
        }
        let mut words = [0u64; 8];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut padded = [0u8; 8];
            padded[..chunk.len()].copy_from_slice(chunk);
            *word = u64::from_le_bytes(padded);
        }
        Some(SigWords {
            len: bytes.len(),
            words,
        })
    }

    fn ct_eq(&self, other: &SigWords) -> bool {
        self.len == other.len && bool::from(self.words.as_slice().ct_eq(other.words.as_slice()))
    }
}

const VERIFIED_KEPT: usize = 8;

thread_local! {
    static VERIFIED: std::cell::RefCell<Vec<Verified>> = const { std::cell::RefCell::new(Vec::new()) };
    static ACCEPTED: std::cell::RefCell<Vec<AcceptedQuery>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A whole query string of a call that passed every check of its signed
/// URL on this thread (see [`AccessKeys::accept_query`]): called again with
/// the same bytes, for the same path, under the same keys, it passes again
/// without being parsed. The bytes hold the signature, so they are compared
/// in constant time.
struct AcceptedQuery {
    generation: u64,
    key: KeyType,
    path: String,
    query: Box<[u8]>,
    expiry: Option<DateTime<Utc>>,
}

const ACCEPTED_KEPT: usize = 8;

/// Adds `entry` to a per-thread list of the `kept` most recent entries.
fn keep_recent<T: 'static>(
    list: &'static std::thread::LocalKey<std::cell::RefCell<Vec<T>>>,
    kept: usize,
    entry: T,
) {
    list.with(|list| {
        let mut list = list.borrow_mut();
        if list.len() == kept {
            list.remove(0);
        }
        list.push(entry);
    });
}

/// Whether `a` and `b` hold the same bytes, in a time that depends on their
/// lengths only (compared eight bytes at a time).
fn bytes_ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = |chunk: &[u8]| {
        let mut padded = [0u8; 8];
        padded[..chunk.len()].copy_from_slice(chunk);
        u64::from_le_bytes(padded)
    };
    let differ = tail(a_words.remainder()) ^ tail(b_words.remainder());
    let differ = a_words.zip(b_words).fold(differ, |acc, (x, y)| {
        let word = |chunk: &[u8]| u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        acc | (word(x) ^ word(y))
    });
    bool::from(differ.ct_eq(&0))
}

fn next_generation() -> u64 {
    static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl PartialEq for AccessKeys {
    fn eq(&self, other: &AccessKeys) -> bool {
        self.primary == other.primary && self.secondary == other.secondary
    }
}

impl Eq for AccessKeys {}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKeys(***)")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl AccessKeys {
    /// Two fresh random keys.
    pub fn generate() -> AccessKeys {
        AccessKeys::new(random_bytes(), random_bytes())
    }

    fn new(primary: [u8; 32], secondary: [u8; 32]) -> AccessKeys {
        let keyed = |secret: &[u8; 32]| {
            HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
        };
        AccessKeys {
            keyed: [keyed(&primary), keyed(&secondary)],
            primary,
            secondary,
            generation: next_generation(),
        }
    }

    /// Replaces one key with a fresh random one.
    pub fn regenerate(&mut self, key: KeyType) {
        *self = match key {
            KeyType::Primary => AccessKeys::new(random_bytes(), self.secondary),
            KeyType::Secondary => AccessKeys::new(self.primary, random_bytes()),
        };
    }

    /// Serialised form (64 bytes) for sealing with the master key.
    pub fn to_bytes(&self) -> Secret {
        let mut raw = Vec::with_capacity(64);
        raw.extend_from_slice(&self.primary);
        raw.extend_from_slice(&self.secondary);
        Secret::new(base64::engine::general_purpose::STANDARD.encode(raw))
    }

    /// Reads what [`AccessKeys::to_bytes`] produced.
    pub fn from_bytes(encoded: &str) -> Option<AccessKeys> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        if raw.len() != 64 {
            return None;
        }
        let mut primary = [0; 32];
        let mut secondary = [0; 32];
        primary.copy_from_slice(&raw[..32]);
        secondary.copy_from_slice(&raw[32..]);
        Some(AccessKeys::new(primary, secondary))
    }

    /// The `sig` value (URL-safe base64 without padding) for `request`.
    pub fn sign(&self, key: KeyType, request: &SasRequest<'_>) -> String {
        let tag = self.mac(key, request);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
    }

    /// Checks `sig` against both keys in constant time and the expiry against `now`.
    pub fn verify(
        &self,
        request: &SasRequest<'_>,
        sig: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyType, SasError> {
        self.verify_at(request, sig, || now)
    }

    /// [`verify`](Self::verify), reading the time only for a URL that expires.
    pub fn verify_at(
        &self,
        request: &SasRequest<'_>,
        sig: &str,
        now: impl FnOnce() -> DateTime<Utc>,
    ) -> Result<KeyType, SasError> {
        if sig.is_empty() {
            return Err(SasError::MissingSignature);
        }
        if request.version != SAS_VERSION {
            return Err(SasError::UnsupportedVersion(request.version.to_string()));
        }
        let key = match self.recently_verified(request, sig) {
            Some(key) => key,
            None => {
                let key = self.verify_tag(request, sig)?;
                self.remember(request, sig, key);
                key
            }
        };
        // Expiry is checked after the signature so a forged `se` reads as forged.
        if let Some(expiry) = request.expiry {
            let at =
                parse_expiry(expiry).ok_or_else(|| SasError::InvalidExpiry(expiry.to_string()))?;
            if now() >= at {
                return Err(SasError::Expired(format_expiry(at)));
            }
        }
        Ok(key)
    }

    /// The key a signature was made with, if it is one of ours for `request`.
    fn verify_tag(&self, request: &SasRequest<'_>, sig: &str) -> Result<KeyType, SasError> {
        // A tag is 32 bytes; anything that does not decode to that many is
        // no signature of ours (decoded on the stack, no allocation per call).
        let mut presented = [0u8; 32];
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode_slice(sig.trim_end_matches('='), &mut presented)
            .map_err(|_| SasError::Mismatch)?;
        if decoded != presented.len() {
            return Err(SasError::Mismatch);
        }
        // Each comparison takes constant time. The secondary key is only
        // tried when the primary does not match, which tells a caller nothing
        // it does not know: only a holder of a valid URL sees the difference.
        [KeyType::Primary, KeyType::Secondary]
            .into_iter()
            .find(|&key| {
                bool::from(
                    self.mac(key, request)
                        .as_slice()
                        .ct_eq(presented.as_slice()),
                )
            })
            .ok_or(SasError::Mismatch)
    }

    fn signed_parts<'a>(request: &SasRequest<'a>) -> [&'a str; 4] {
        // Newline separators keep the fields unambiguous: none may contain one.
        [
            request.version,
            request.permissions,
            request.expiry.unwrap_or(""),
            request.path,
        ]
    }

    /// A cache hit needs the same keys, the same signed text and the same
    /// signature, compared in constant time: a caller learns nothing of a
    /// valid signature from how long a wrong one takes to refuse.
    fn recently_verified(&self, request: &SasRequest<'_>, sig: &str) -> Option<KeyType> {
        let parts = Self::signed_parts(request);
        let sig = SigWords::of(sig)?;
        VERIFIED.with(|verified| {
            verified.borrow().iter().find_map(|v| {
                let same = v.generation == self.generation
                    && v.signed.iter().zip(parts).all(|(kept, part)| kept == part)
                    && v.sig.ct_eq(&sig);
                same.then_some(v.key)
            })
        })
    }

    fn remember(&self, request: &SasRequest<'_>, sig: &str, key: KeyType) {
        let Some(sig) = SigWords::of(sig) else {
            return;
        };
        let entry = Verified {
            generation: self.generation,
            key,
            signed: Self::signed_parts(request).map(str::to_string),
            sig,
        };
        keep_recent(&VERIFIED, VERIFIED_KEPT, entry);
    }

    /// The key a call to `path` with exactly this `query` string was
    /// accepted with before on this thread ([`AccessKeys::accept_query`]),
    /// unless these keys are not the ones that accepted it or the URL has
    /// expired since. `now` is read only for a URL that expires.
    pub fn accepted_query(
        &self,
        path: &str,
        query: &str,
        now: impl FnOnce() -> DateTime<Utc>,
    ) -> Option<KeyType> {
        let (key, expiry) = ACCEPTED.with(|accepted| {
            accepted.borrow().iter().find_map(|a| {
                let same = a.generation == self.generation
                    && a.path == path
                    && bytes_ct_eq(&a.query, query.as_bytes());
                same.then_some((a.key, a.expiry))
            })
        })?;
        match expiry {
            Some(at) if now() >= at => None,
            _ => Some(key),
        }
    }

    /// Remembers that a call to `path` with this `query` string passed
    /// every check of its signed URL: its signature (verified with `key`
    /// of these keys), its expiry `se` and what its permissions allow. The
    /// caller vouches for the checks; a query whose expiry cannot be read
    /// is not kept.
    pub fn accept_query(&self, path: &str, query: &str, key: KeyType, se: Option<&str>) {
        let expiry = match se {
            Some(se) => match parse_expiry(se) {
                Some(at) => Some(at),
                None => return,
            },
            None => None,
        };
        let entry = AcceptedQuery {
            generation: self.generation,
            key,
            path: path.to_string(),
            query: query.as_bytes().into(),
            expiry,
        };
        keep_recent(&ACCEPTED, ACCEPTED_KEPT, entry);
    }

    fn mac(&self, key: KeyType, request: &SasRequest<'_>) -> [u8; 32] {
        let mut mac = match key {
            KeyType::Primary => self.keyed[0].clone(),
            KeyType::Secondary => self.keyed[1].clone(),
        };
        for part in Self::signed_parts(request) {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac.finalize().into_bytes().into()
    }
}

/// Formats an expiry for the `se` parameter (RFC 3339, UTC, whole seconds).
pub fn format_expiry(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an `se` value.
pub fn parse_expiry(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn request<'a>(path: &'a str, expiry: Option<&'a str>) -> SasRequest<'a> {
        SasRequest {
            path,
            permissions: "/triggers/manual/run",
            version: SAS_VERSION,
            expiry,
        }
    }

    #[test]
    fn a_signature_verifies_with_the_key_that_made_it() {
        let keys = AccessKeys::generate();
        let req = request("/api/a/triggers/manual/invoke", None);
        let now = Utc::now();
        assert_eq!(
            keys.verify(&req, &keys.sign(KeyType::Primary, &req), now),
            Ok(KeyType::Primary)
        );
        assert_eq!(
            keys.verify(&req, &keys.sign(KeyType::Secondary, &req), now),
            Ok(KeyType::Secondary)
        );
    }

    #[test]
    fn tampering_with_any_signed_part_is_refused() {
        let keys = AccessKeys::generate();
        let req = request("/api/a/triggers/manual/invoke", None);
        let sig = keys.sign(KeyType::Primary, &req);
        let now = Utc::now();
        let other_path = request("/api/b/triggers/manual/invoke", None);
        assert_eq!(keys.verify(&other_path, &sig, now), Err(SasError::Mismatch));
        let other_sp = SasRequest {
            permissions: "/triggers/other/run",
            ..req
        };
        assert_eq!(keys.verify(&other_sp, &sig, now), Err(SasError::Mismatch));
        let mut flipped = sig.clone().into_bytes();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(keys.verify(&req, &flipped, now), Err(SasError::Mismatch));
        assert_eq!(keys.verify(&req, "%%%", now), Err(SasError::Mismatch));
        // A signature cut short or carrying extra bytes is no signature.
        let short = &sig[..sig.len() - 4];
        assert_eq!(keys.verify(&req, short, now), Err(SasError::Mismatch));
        let long = format!("{sig}AAAA");
        assert_eq!(keys.verify(&req, &long, now), Err(SasError::Mismatch));
        assert_eq!(keys.verify(&req, "", now), Err(SasError::MissingSignature));
        let v2 = SasRequest {
            version: "2.0",
            ..req
        };
        assert!(matches!(
            keys.verify(&v2, &sig, now),
            Err(SasError::UnsupportedVersion(_))
        ));
    }

    #[test]
    fn expiry_is_signed_and_enforced() {
        let keys = AccessKeys::generate();
        let now = Utc::now();
        let se = format_expiry(now + Duration::hours(1));
        let req = request("/p", Some(&se));
        let sig = keys.sign(KeyType::Primary, &req);
        assert_eq!(keys.verify(&req, &sig, now), Ok(KeyType::Primary));
        assert!(matches!(
            keys.verify(&req, &sig, now + Duration::hours(2)),
            Err(SasError::Expired(_))
        ));
        let later = format_expiry(now + Duration::days(30));
        let extended = request("/p", Some(&later));
        assert_eq!(keys.verify(&extended, &sig, now), Err(SasError::Mismatch));
        let dropped = request("/p", None);
        assert_eq!(keys.verify(&dropped, &sig, now), Err(SasError::Mismatch));
    }

    #[test]
    fn regenerating_a_key_invalidates_only_its_urls() {
        let mut keys = AccessKeys::generate();
        let req = request("/p", None);
        let by_primary = keys.sign(KeyType::Primary, &req);
        let by_secondary = keys.sign(KeyType::Secondary, &req);
        keys.regenerate(KeyType::Primary);
        let now = Utc::now();
        assert_eq!(keys.verify(&req, &by_primary, now), Err(SasError::Mismatch));
        assert_eq!(
            keys.verify(&req, &by_secondary, now),
            Ok(KeyType::Secondary)
        );
    }

    #[test]
    fn a_signature_verified_before_is_held_to_the_same_rules() {
        let mut keys = AccessKeys::generate();
        let req = request("/api/a/triggers/manual/invoke", None);
        let sig = keys.sign(KeyType::Secondary, &req);
        let now = Utc::now();
        // Verified once, then again (from this thread's recent signatures).
        assert_eq!(keys.verify(&req, &sig, now), Ok(KeyType::Secondary));
        assert_eq!(keys.verify(&req, &sig, now), Ok(KeyType::Secondary));
        let other_path = request("/api/b/triggers/manual/invoke", None);
        assert_eq!(keys.verify(&other_path, &sig, now), Err(SasError::Mismatch));
        let mut flipped = sig.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'Q' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(keys.verify(&req, &flipped, now), Err(SasError::Mismatch));
        let mut first = sig.clone().into_bytes();
        first[0] = if first[0] == b'A' { b'B' } else { b'A' };
        let first = String::from_utf8(first).unwrap();
        assert_eq!(keys.verify(&req, &first, now), Err(SasError::Mismatch));
        assert_eq!(keys.verify(&req, &sig[..42], now), Err(SasError::Mismatch));
        assert_eq!(keys.verify(&req, &sig, now), Ok(KeyType::Secondary));
        // Other keys with the same secrets verify it; regenerated ones do not.
        let restored = AccessKeys::from_bytes(keys.to_bytes().expose()).unwrap();
        assert_eq!(restored.verify(&req, &sig, now), Ok(KeyType::Secondary));
        keys.regenerate(KeyType::Secondary);
        assert_eq!(keys.verify(&req, &sig, now), Err(SasError::Mismatch));
    }

    #[test]
    fn an_accepted_query_passes_again_only_byte_for_byte_under_the_same_keys() {
        let mut keys = AccessKeys::generate();
        let path = "/api/a/triggers/manual/invoke";
        let query = "api-version=2022-05-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let now = Utc::now();
        assert_eq!(keys.accepted_query(path, query, || now), None);
        keys.accept_query(path, query, KeyType::Primary, None);
        assert_eq!(
            keys.accepted_query(path, query, || now),
            Some(KeyType::Primary)
        );
        // One byte off anywhere, one byte more or less, another path: not accepted.
        for at in [0, query.len() / 2, query.len() - 1] {
            let mut other = query.as_bytes().to_vec();
            other[at] ^= 1;
            let other = String::from_utf8(other).unwrap();
            assert_eq!(keys.accepted_query(path, &other, || now), None, "byte {at}");
        }
        assert_eq!(
            keys.accepted_query(path, &query[..query.len() - 1], || now),
            None
        );
        assert_eq!(
            keys.accepted_query(path, &format!("{query}G"), || now),
            None
        );
        assert_eq!(
            keys.accepted_query("/api/b/triggers/manual/invoke", query, || now),
            None
        );
        // Equal bytes are equal whatever their length.
        assert!(bytes_ct_eq(b"", b""));
        assert!(bytes_ct_eq(b"0123456789", b"0123456789"));
        assert!(!bytes_ct_eq(b"0123456789", b"0123456788"));
        assert!(!bytes_ct_eq(b"1123456789", b"0123456789"));
        assert!(bytes_ct_eq(b"01234567", b"01234567"));
        assert!(!bytes_ct_eq(b"01234567", b"01234568"));
        // An expiring query passes until it expires.
        let expiring = format!("{query}&se=2030-01-01T00%3A00%3A00.0000000Z");
        let at = parse_expiry("2030-01-01T00:00:00.0000000Z").unwrap();
        keys.accept_query(
            path,
            &expiring,
            KeyType::Secondary,
            Some("2030-01-01T00:00:00.0000000Z"),
        );
        let before = at - chrono::Duration::seconds(1);
        assert_eq!(
            keys.accepted_query(path, &expiring, || before),
            Some(KeyType::Secondary)
        );
        assert_eq!(keys.accepted_query(path, &expiring, || at), None);
        // An expiry that cannot be read is not kept.
        let unreadable = format!("{query}&se=soon");
        keys.accept_query(path, &unreadable, KeyType::Primary, Some("soon"));
        assert_eq!(keys.accepted_query(path, &unreadable, || now), None);
        // Regenerating either key forgets everything accepted before.
        keys.regenerate(KeyType::Secondary);
        assert_eq!(keys.accepted_query(path, query, || now), None);
    }

    #[test]
    fn keys_survive_serialisation_and_never_print() {
        let keys = AccessKeys::generate();
        let restored = AccessKeys::from_bytes(keys.to_bytes().expose()).unwrap();
        assert_eq!(restored, keys);
        assert_eq!(format!("{keys:?}"), "AccessKeys(***)");
        assert!(AccessKeys::from_bytes("c2hvcnQ=").is_none());
    }
}
