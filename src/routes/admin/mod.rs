//! The operator console: server-rendered pages for support leads and admins (threads and
//! transcripts, the human-input queue, attachments, feedback, audit, operators, agents, usage),
//! behind operator login, CSRF tokens and a strict Content-Security-Policy.

pub mod render;
