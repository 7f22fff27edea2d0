//! Secret-looking text in memory writes: API keys, private keys, tokens and password
//! assignments. Memory is replayed into prompts, so a secret stored there leaks into every
//! later model call; such notes are rejected or redacted (`guard.secret_notes`).

use std::sync::LazyLock;

use regex::Regex;

pub const REDACTED: &str = "[REDACTED]";

struct Pattern {
    name: &'static str,
    re: Regex,
}

// The patterns are constants; a unit test checks every one compiles and matches its cases.
static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |name: &'static str, re: &str| match Regex::new(re) {
        Ok(re) => Some(Pattern { name, re }),
        Err(e) => {
            tracing::error!(name, error = %e, "secret pattern does not compile");
            None
        }
    };
    [
        p("private key", r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
        p("AWS access key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        p(
            "GitHub token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b",
        ),
        p("Slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
        p(
            "Stripe key",
            r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b",
        ),
        p(
            "OpenAI or Anthropic key",
            r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}\b",
        ),
        p("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
        p("Cairn API key", r"\btok_[A-Za-z0-9_-]{20,}\b"),
        p(
            "JSON web token",
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b",
        ),
        p(
            "password or secret assignment",
            r#"(?i)\b(?:password|passwd|pwd|passphrase|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)\b\s*(?:is|=|:)\s*["']?[^\s"']{6,}"#,
        ),
        p(
            "credentials in a URL",
            r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:[^\s/@]{3,}@",
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
});

/// The kinds of secret found in `text`, in pattern order, each once.
pub fn find(text: &str) -> Vec<&'static str> {
    PATTERNS
        .iter()
        .filter(|p| p.re.is_match(text))
        .map(|p| p.name)
        .collect()
}

/// `text` with every match replaced by `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for p in PATTERNS.iter() {
        out = p.re.replace_all(&out, REDACTED).into_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(PATTERNS.len(), 11);
    }

    #[test]
    fn finds_the_usual_secrets() {
        let cases = [
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow", "private key"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key"),
            ("aws key AKIAIOSFODNN7EXAMPLE for prod", "AWS access key"),
            (
                "use ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
                "GitHub token",
            ),
            ("slack xoxb-1234567890-abcdefghij", "Slack token"),
            ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "Stripe key"),
            (
                "OPENAI_KEY sk-proj-abcdefghijklmnopqrstuvwx",
                "OpenAI or Anthropic key",
            ),
            (
                "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
                "OpenAI or Anthropic key",
            ),
            (
                "maps AIzaSyA1234567890abcdefghijklmnopqrstuv",
                "Google API key",
            ),
            (
                "cairn tok_abcdefghijklmnopqrstuvwxyz012345",
                "Cairn API key",
            ),
            (
                "bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
                "JSON web token",
            ),
            (
                "the admin password is hunter2hunter2",
                "password or secret assignment",
            ),
            ("API_KEY=9f8e7d6c5b4a", "password or secret assignment"),
            (
                "client_secret: 'abcdef123456'",
                "password or secret assignment",
            ),
            (
                "postgres://app:s3cr3tpw@db.internal:5432/app",
                "credentials in a URL",
            ),
        ];
        for (text, kind) in cases {
            assert!(
                find(text).contains(&kind),
                "{text} should be a {kind}: {:?}",
                find(text)
            );
            assert!(redact(text).contains(REDACTED), "{text}");
        }
    }

    #[test]
    fn leaves_ordinary_memories_alone() {
        for text in [
            "The user prefers dark mode and concise answers.",
            "Passwords must be rotated every 90 days according to policy.",
            "Ask for the API key in the vault UI, never in chat.",
            "Token budget for replies is 2000 tokens.",
            "The skeleton key for the office is at reception.",
            "Deploys go through https://ci.example.com/pipelines/42",
        ] {
            assert!(find(text).is_empty(), "{text}: {:?}", find(text));
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn redaction_keeps_the_rest() {
        assert_eq!(
            redact("deploy with AKIAIOSFODNN7EXAMPLE then restart"),
            "deploy with [REDACTED] then restart"
        );
    }
}
