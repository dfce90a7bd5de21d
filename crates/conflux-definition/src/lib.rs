//! Typed model and validation of Workflow Definition Language documents.
