//! The closed sets of states the server records beside the protocol: what kind of question a
//! run asked a person, where that question stands, who answered it, how a run went, and the
//! webhooks that report those questions. Each is an enum with its stored name in one place; the
//! store converts at its edge, so a typo is a compile error instead of a row that no query
//! finds.

use std::fmt;
use std::str::FromStr;

/// A stored name that no variant has (a row written by something else, or a corrupted one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}'")]
pub struct UnknownState {
    pub kind: &'static str,
    pub value: String,
}

/// An enum stored as text: `as_str`, `Display`, `FromStr` and the `String` conversions the
/// store's rows use, all from one list of variants and names.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident: $label:literal {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order (for filters and pickers).
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(value: &str) -> Result<Self, UnknownState> {
                match value {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownState {
                        kind: $label,
                        value: other.to_owned(),
                    }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownState;

            fn try_from(value: String) -> Result<Self, UnknownState> {
                value.parse()
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }
    };
}

text_enum! {
    /// What a run asked a person.
    InteractionKind: "interaction kind" {
        /// `request_human_input`: a form the model designed.
        Form = "form",
        /// A tool call that waits for a yes or no (`CHATKIT_APPROVAL_TOOLS`).
        Approval = "approval",
        /// An MCP server's question (elicitation).
        Elicitation = "elicitation",
    }
}

text_enum! {
    /// Where a question to a person stands.
    InteractionStatus: "interaction status" {
        Pending = "pending",
        /// Answered with values, or approved.
        Answered = "answered",
        /// The person told the assistant to use its best judgement.
        BestJudgement = "best_judgement",
        Cancelled = "cancelled",
        /// Nobody answered in time.
        Expired = "expired",
        /// Denied (an approval) or declined (an elicitation).
        Denied = "denied",
    }
}

text_enum! {
    /// Who answered a question.
    AnsweredBy: "answerer" {
        /// The chat's own user.
        User = "user",
        /// An operator, from the console.
        Operator = "operator",
    }
}

text_enum! {
    /// What a human-input webhook reports.
    WebhookEvent: "webhook event" {
        /// A form, approval or question started waiting for a person.
        Waiting = "form.waiting",
        /// It was answered, judged, cancelled, approved or denied, by the user or an operator.
        Answered = "form.answered",
        /// Nobody answered in time.
        Expired = "form.expired",
    }
}

text_enum! {
    /// Where a webhook delivery stands.
    DeliveryStatus: "delivery status" {
        /// Not yet accepted by the receiver; sent (again) at its next attempt time.
        Pending = "pending",
        /// The receiver answered 2xx.
        Delivered = "delivered",
        /// Every attempt failed; an admin may retry it from the console.
        Failed = "failed",
    }
}

text_enum! {
    /// How a run (one assistant turn) stands.
    RunStatus: "run status" {
        Running = "running",
        Completed = "completed",
        Failed = "failed",
        /// Stopped by the user (the partial answer is kept).
        Cancelled = "cancelled",
        /// Cut off by its process: a shutdown that did not wait for it, or a process that
        /// died (what was streamed and persisted is kept).
        Interrupted = "interrupted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for kind in InteractionKind::ALL {
            assert_eq!(kind.as_str().parse::<InteractionKind>(), Ok(*kind));
        }
        for status in InteractionStatus::ALL {
            assert_eq!(String::from(*status).try_into(), Ok(*status));
        }
        assert_eq!(RunStatus::Completed.to_string(), "completed");
        assert_eq!(
            "operatr".parse::<AnsweredBy>(),
            Err(UnknownState {
                kind: "answerer",
                value: "operatr".into()
            })
        );
    }
}
