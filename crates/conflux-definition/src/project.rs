//! Loading a Logic Apps Standard project folder.
