//! The sealing hook: how secured action sections reach the journal encrypted.
//!
//! An action whose inputs or outputs are secured (`secureData`, secure
//! parameters, or propagation) never has those sections written in plain
//! text. With a [`Sealer`] the engine journals them encrypted, so a resumed
//! run replays the finished action instead of running it again; without one
//! they are left out of the journal and such an action runs again on resume.
//! The engine does not hold keys: the host plugs in its master key.

use std::fmt;

/// A sealed section could not be opened (wrong or missing key, damaged data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealError(pub String);

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SealError {}

/// Authenticated encryption for the secured sections of journal entries.
pub trait Sealer: Send + Sync + 'static {
    /// Encrypts `plaintext`, bound to `context` (authenticated, not secret),
    /// so a sealed value cannot be moved to another journal entry.
    fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8>;

    /// Decrypts what [`Sealer::seal`] produced for the same `context`.
    fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError>;
}

type SealFn = dyn Fn(&[u8], &[u8]) -> Vec<u8> + Send + Sync;
type OpenFn = dyn Fn(&[u8], &[u8]) -> Result<Vec<u8>, SealError> + Send + Sync;

/// A [`Sealer`] made of two functions, for hosts whose key type lives in a
/// crate the engine does not know (`FnSealer::new(|p, c| key.seal(p, c), ...)`).
pub struct FnSealer {
    seal: Box<SealFn>,
    open: Box<OpenFn>,
}

impl FnSealer {
    pub fn new(
        seal: impl Fn(&[u8], &[u8]) -> Vec<u8> + Send + Sync + 'static,
        open: impl Fn(&[u8], &[u8]) -> Result<Vec<u8>, SealError> + Send + Sync + 'static,
    ) -> FnSealer {
        FnSealer {
            seal: Box::new(seal),
            open: Box::new(open),
        }
    }
}

impl Sealer for FnSealer {
    fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        (self.seal)(plaintext, context)
    }

    fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        (self.open)(sealed, context)
    }
}

impl fmt::Debug for FnSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnSealer")
    }
}
