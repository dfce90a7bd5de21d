//! HTTP host: trigger endpoints and the management API.
