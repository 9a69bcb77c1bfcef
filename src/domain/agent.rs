//! Agent account fields, parsed once at the edge ("parse, don't validate").

use std::fmt;

/// Why a submitted field was refused; the web layer turns it into a localized sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("username must be 1-32 characters: letters, digits, '.', '-' or '_'")]
    Username,
    #[error("display name must be 1-64 characters")]
    DisplayName,
    #[error("password must be 8-128 characters")]
    Password,
    #[error("role must be 'agent' or 'admin'")]
    Role,
}

pub const USERNAME_MAX: usize = 32;
pub const DISPLAY_NAME_MAX: usize = 64;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;

/// Lower-case login name; compared case-insensitively by normalising here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim().to_lowercase();
        let ok = !s.is_empty()
            && s.chars().count() <= USERNAME_MAX
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if ok {
            Ok(Self(s))
        } else {
            Err(ValidationError::Username)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let ok = !s.is_empty()
            && s.chars().count() <= DISPLAY_NAME_MAX
            && !s
                .chars()
                .any(|c| c.is_control() || super::text::is_bidi_control(c));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::DisplayName)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password being set (not one being checked at login, which is only capped).
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let n = raw.chars().count();
        if (PASSWORD_MIN..=PASSWORD_MAX).contains(&n) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValidationError::Password)
        }
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s {
            "agent" => Ok(Role::Agent),
            "admin" => Ok(Role::Admin),
            _ => Err(ValidationError::Role),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_bounded() {
        assert_eq!(Username::parse("  Lin.Wang ").unwrap().as_str(), "lin.wang");
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("x'; drop table agents;--").is_err());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        assert!(Username::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn display_names_reject_control_characters_and_length() {
        assert_eq!(DisplayName::parse(" 王 小明 ").unwrap().as_str(), "王 小明");
        assert!(DisplayName::parse("a\u{0}b").is_err());
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"名".repeat(64)).is_ok());
        assert!(DisplayName::parse(&"名".repeat(65)).is_err());
        // Direction overrides would spoof how the name reads; Arabic itself is fine.
        assert!(DisplayName::parse("Lin\u{202E}gnaW").is_err());
        assert!(DisplayName::parse("مريم").is_ok());
    }

    #[test]
    fn passwords_have_bounds_and_do_not_debug_print() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse(&"p".repeat(129)).is_err());
        let p = NewPassword::parse("correct horse").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn roles_round_trip() {
        for r in [Role::Agent, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
    }
}
