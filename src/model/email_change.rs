//! Which of an email change's two links a token is.

/// The link to the new address confirms the change; the one to the old address undoes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Sent to the new address; following it makes the change.
    Confirm,
    /// Sent to the old address after a change; following it restores the old address.
    Revert,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Confirm => "confirm",
            ChangeKind::Revert => "revert",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confirm" => Some(ChangeKind::Confirm),
            "revert" => Some(ChangeKind::Revert),
            _ => None,
        }
    }
}
