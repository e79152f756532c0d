//! The operator console's services, with no HTTP in them.

pub mod export;
pub mod transcript;
