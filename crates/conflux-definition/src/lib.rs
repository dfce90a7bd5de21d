//! Typed model and validation of Workflow Definition Language documents, and the
//! loading of a Logic Apps Standard project folder.

pub mod project;
