//! Keys, SAS signing, secret encryption, identities, access policies.
