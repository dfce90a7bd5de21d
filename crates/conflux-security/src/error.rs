use std::path::PathBuf;

/// Everything that can go wrong with keys and sealed data.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("master key in {source_name} is not valid: {reason}; expected base64 of exactly 32 bytes (several keys may be separated by commas)")]
    InvalidMasterKey { source_name: String, reason: String },
    #[error("could not {operation} the master key file {path}: {error}")]
    KeyFile {
        operation: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("sealed data is malformed: {0}")]
    MalformedEnvelope(&'static str),
    #[error("sealed data was encrypted with a master key that is not loaded (key id {key_id}); add that key to CONFLUX_MASTER_KEY")]
    UnknownMasterKey { key_id: String },
    #[error(
        "sealed data could not be decrypted: it was altered, or the associated data does not match"
    )]
    DecryptionFailed,
    #[error("invalid IP range `{text}`: {reason}; use x.x.x.x/n, x.x.x.x-y.y.y.y or an IPv6 prefix such as 2001:db8::/32")]
    InvalidIpRange { text: String, reason: String },
    #[error("stored admin key hash is malformed")]
    MalformedAdminHash,
}
