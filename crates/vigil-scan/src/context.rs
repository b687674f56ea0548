//! Where one file's findings are collected, and the door through which every format scans
//! what it contains.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use crate::blob::Blob;
use crate::budget::Budget;
use crate::globals::{judge, Verdict};
use crate::kind::Kind;
use crate::{FileReport, Finding, Limits, Policy, Rule, Severity};

/// The one entry for scanning a blob of any format: sniff it, then scan it as that format.
/// Formats reach it only through [`Ctx::scan`], so no format module depends on the dispatcher.
pub(crate) trait Door: Sync {
    /// Sniff and scan one blob; `member` is its path inside containers.
    fn scan(&self, ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>, depth: usize) -> Kind;
}

/// Where one file's findings are collected.
pub(crate) struct Ctx<'a> {
    limits: &'a Limits,
    policy: &'a Policy,
    door: &'a dyn Door,
    /// What the whole scan may still spend (shared by every file and thread).
    pub(crate) budget: Arc<Budget>,
    findings: Vec<Finding>,
    seen: HashSet<(Rule, Option<String>, Option<String>, String)>,
    error: Option<String>,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) external: Vec<PathBuf>,
}

impl<'a> Ctx<'a> {
    /// A context for one file: `dir` is its folder (for ONNX external data).
    pub(crate) fn new(
        limits: &'a Limits,
        policy: &'a Policy,
        door: &'a dyn Door,
        budget: Arc<Budget>,
        dir: Option<PathBuf>,
    ) -> Self {
        Ctx {
            limits,
            policy,
            door,
            budget,
            findings: Vec::new(),
            seen: HashSet::new(),
            error: None,
            dir,
            external: Vec::new(),
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        *self.limits
    }

    /// A context whose findings are thrown away (for probing).
    pub(crate) fn new_detached(&self) -> Ctx<'a> {
        Ctx::new(
            self.limits,
            self.policy,
            self.door,
            Arc::clone(&self.budget),
            None,
        )
    }

    pub(crate) fn child(&self) -> Ctx<'a> {
        Ctx::new(
            self.limits,
            self.policy,
            self.door,
            Arc::clone(&self.budget),
            self.dir.clone(),
        )
    }

    pub(crate) fn absorb(&mut self, other: Ctx<'a>) {
        for f in other.findings {
            self.push(f);
        }
        if self.error.is_none() {
            self.error = other.error;
        }
        self.external.extend(other.external);
    }

    /// The most severe finding so far.
    pub(crate) fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    pub(crate) fn finding_count(&self) -> usize {
        self.findings.len()
    }

    fn push(&mut self, f: Finding) {
        let key = (
            f.rule,
            f.global.clone(),
            f.member.clone(),
            if f.global.is_some() {
                String::new()
            } else {
                f.message.clone()
            },
        );
        if self.seen.insert(key) {
            self.findings.push(f);
        }
    }

    /// Record a finding.
    pub(crate) fn add(
        &mut self,
        severity: Severity,
        rule: Rule,
        message: String,
        global: Option<&str>,
        member: Option<&str>,
    ) {
        self.push(Finding {
            severity,
            rule,
            message,
            global: global.map(str::to_string),
            member: member.map(str::to_string),
        });
    }

    /// Record a MEDIUM finding for content that cannot be analysed, and remember the first as the file's error.
    pub(crate) fn fail(&mut self, rule: Rule, message: String, member: Option<&str>) {
        if self.error.is_none() {
            self.error = Some(match member {
                Some(m) => format!("{m}: {message}"),
                None => message.clone(),
            });
        }
        self.add(Severity::Medium, rule, message, None, member);
    }

    /// Judge an imported global against the built-in lists and the user's policy.
    pub(crate) fn judge_global(&mut self, global: &str, member: Option<&str>, how: &str) {
        let (severity, rule, message) = match judge(global) {
            Verdict::Safe => return,
            Verdict::Deny(sev, why) => {
                let rule = if sev == Severity::Critical { Rule::PickleCodeExecution } else { Rule::PickleDangerousGlobal };
                (sev, rule, format!("imports {global} ({how}): {why}"))
            }
            Verdict::Unknown => (
                Severity::Medium,
                Rule::PickleUnknownGlobal,
                format!("imports {global} ({how}), which is on neither the allow-list nor the deny-list"),
            ),
        };
        if let Some(rule_ok) = self.policy.find(global) {
            let msg = format!(
                "{global} allowed by {} (would be {severity} {rule})",
                rule_ok.describe()
            );
            self.add(
                Severity::Low,
                Rule::PolicyAllowed,
                msg,
                Some(global),
                member,
            );
            return;
        }
        self.add(severity, rule, message, Some(global), member);
    }

    /// Scan bytes found inside another file, through the one door every format uses.
    pub(crate) fn scan(&mut self, blob: &Blob, member: Option<&str>, depth: usize) -> Kind {
        let door = self.door;
        door.scan(self, blob, member, depth)
    }

    /// [`Ctx::scan`] for bytes whose kind does not matter.
    pub(crate) fn scan_nested(&mut self, blob: &Blob, member: &str, depth: usize) {
        let _ = self.scan(blob, Some(member), depth);
    }

    /// The file's report, findings most severe first.
    pub(crate) fn finish(mut self, path: PathBuf, format: String) -> FileReport {
        self.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.member.cmp(&b.member))
        });
        FileReport {
            path,
            format,
            findings: self.findings,
            error: self.error,
            external_data: self.external,
        }
    }
}
