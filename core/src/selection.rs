//! Which requirements a run checks: by id prefix, by level, by spec.

use crate::catalogue::{Level, Requirement, Spec};

/// A filter over requirements. The default selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Keep only ids under one of these prefixes (empty: all). A prefix matches whole
    /// segments: `runtime.config` selects `runtime.config.process.cwd-absolute` but not
    /// `runtime.config-linux.sysctl.x`.
    pub include: Vec<String>,
    /// Drop ids under any of these prefixes.
    pub exclude: Vec<String>,
    /// Keep only these levels (empty: all).
    pub levels: Vec<Level>,
    /// Keep only these specs (empty: all).
    pub specs: Vec<Spec>,
}

fn under(id: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('.');
    id == prefix || (id.starts_with(prefix) && id.as_bytes().get(prefix.len()) == Some(&b'.'))
}

impl Selection {
    /// Everything.
    pub fn all() -> Selection {
        Selection::default()
    }

    /// Whether the requirement is selected.
    pub fn selects(&self, r: &Requirement) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| under(&r.id, p)))
            && !self.exclude.iter().any(|p| under(&r.id, p))
            && (self.levels.is_empty() || self.levels.contains(&r.level))
            && (self.specs.is_empty() || self.specs.contains(&r.spec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Platform, Subject};

    fn req(id: &str, level: Level) -> Requirement {
        Requirement {
            id: id.into(),
            spec: Spec::Runtime,
            spec_version: "1.3.0".into(),
            anchor: String::new(),
            source: "config.md#x".into(),
            level,
            subject: Subject::Bundle,
            platform: Platform::All,
            summary: "s".into(),
            not_testable: None,
        }
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let s = Selection {
            include: vec!["runtime.config".into()],
            ..Selection::default()
        };
        assert!(s.selects(&req("runtime.config.process.cwd-absolute", Level::Must)));
        assert!(!s.selects(&req("runtime.config-linux.sysctl.x", Level::Must)));
    }

    #[test]
    fn exclude_and_levels() {
        let s = Selection {
            exclude: vec!["runtime.config.hooks".into()],
            levels: vec![Level::Must, Level::MustNot],
            ..Selection::default()
        };
        assert!(!s.selects(&req("runtime.config.hooks.path", Level::Must)));
        assert!(!s.selects(&req("runtime.config.process.x", Level::Should)));
        assert!(s.selects(&req("runtime.config.process.x", Level::MustNot)));
    }
}
