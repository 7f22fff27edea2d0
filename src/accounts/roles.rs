//! Who may do what: a user's role and an API key's scopes.
//!
//! The rule: a caller may do something only if it holds the scope the route declares
//! (`http/scopes.rs`). A session holds the scopes of its user's role; a key holds the scopes it
//! was created with, which can never exceed its creator's. The privileged scopes (`review`,
//! `policy`, `admin`) are never in a key's default set, so an agent's key cannot approve its own
//! requests or rewrite the policies that guard it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's role in the installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The operator: users and roles, credit, the admin API; and everything a reviewer may do.
    Admin,
    /// Decides approvals, reviews notes, activates harness versions, writes policies.
    Reviewer,
    /// Runtime work only: memory, sources, chat, checks and reports.
    Member,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Reviewer, Role::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Member => "member",
        }
    }

    /// What a session of this role holds.
    pub fn scopes(self) -> Scopes {
        let privileged: &[Scope] = match self {
            Role::Admin => &[Scope::Review, Scope::Policy, Scope::Admin],
            Role::Reviewer => &[Scope::Review, Scope::Policy],
            Role::Member => &[],
        };
        Scopes::runtime().with(privileged)
    }
}

/// The one of `all` whose word is `s`; the error names what was sent.
fn word_of<T: Copy>(
    all: &[T],
    word: fn(T) -> &'static str,
    s: &str,
    what: &str,
) -> Result<T, String> {
    all.iter().copied().find(|x| word(*x) == s).ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|x| word(*x)).collect();
        format!("unknown {what} `{s}`; expected one of {}", known.join(", "))
    })
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        word_of(&Role::ALL, Role::as_str, s, "role")
    }
}

/// One permission a route may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Chat,
    Embeddings,
    MemoryRead,
    MemoryWrite,
    SourcesRead,
    SourcesWrite,
    ActionsCheck,
    ActionsReport,
    Harness,
    Review,
    Policy,
    Admin,
}

impl Scope {
    /// Every scope: the runtime ones first, then the privileged `review`, `policy`, `admin`.
    pub const ALL: [Scope; 12] = [
        Scope::Chat,
        Scope::Embeddings,
        Scope::MemoryRead,
        Scope::MemoryWrite,
        Scope::SourcesRead,
        Scope::SourcesWrite,
        Scope::ActionsCheck,
        Scope::ActionsReport,
        Scope::Harness,
        Scope::Review,
        Scope::Policy,
        Scope::Admin,
    ];

    /// A key's default set: everything an agent or app needs at run time (`ALL` but the
    /// three privileged scopes at its end).
    pub const RUNTIME: &'static [Scope] = Self::ALL.split_at(Self::ALL.len() - 3).0;

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Chat => "chat",
            Scope::Embeddings => "embeddings",
            Scope::MemoryRead => "memory:read",
            Scope::MemoryWrite => "memory:write",
            Scope::SourcesRead => "sources:read",
            Scope::SourcesWrite => "sources:write",
            Scope::ActionsCheck => "actions:check",
            Scope::ActionsReport => "actions:report",
            Scope::Harness => "harness",
            Scope::Review => "review",
            Scope::Policy => "policy",
            Scope::Admin => "admin",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        word_of(&Scope::ALL, Scope::as_str, s, "scope")
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u16);

impl Scopes {
    pub fn runtime() -> Self {
        Self::default().with(Scope::RUNTIME)
    }

    pub fn with(mut self, scopes: &[Scope]) -> Self {
        for s in scopes {
            self.0 |= s.bit();
        }
        self
    }

    pub fn has(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether every scope of `self` is also in `other`.
    pub fn within(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.has(*s))
    }

    pub fn names(self) -> Vec<String> {
        self.iter().map(|s| s.as_str().to_string()).collect()
    }

    /// Reads stored names; unknown names are dropped (a scope retired in a later version
    /// grants nothing).
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Self {
        let known: Vec<Scope> = names
            .iter()
            .filter_map(|n| n.as_ref().parse().ok())
            .collect();
        Self::default().with(&known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_scopes_hold_no_privileged_scope() {
        let runtime = Scopes::runtime();
        for s in [Scope::Review, Scope::Policy, Scope::Admin] {
            assert!(!runtime.has(s), "{s}");
        }
        assert!(runtime.has(Scope::MemoryWrite));
    }

    #[test]
    fn roles_nest_member_within_reviewer_within_admin() {
        let (m, r, a) = (
            Role::Member.scopes(),
            Role::Reviewer.scopes(),
            Role::Admin.scopes(),
        );
        assert!(m.within(r) && r.within(a));
        assert!(!r.within(m) && !a.within(r));
        assert!(r.has(Scope::Review) && !r.has(Scope::Admin));
    }

    #[test]
    fn scope_names_round_trip_and_unknown_names_grant_nothing() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
        }
        let read = Scopes::from_names(&["memory:read", "root"]);
        assert_eq!(read.names(), vec!["memory:read"]);
        assert_eq!("reviewer".parse::<Role>(), Ok(Role::Reviewer));
        assert!("user".parse::<Role>().is_err());
    }
}
