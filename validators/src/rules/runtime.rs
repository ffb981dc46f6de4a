//! Rule-layer checks of runtime-spec documents: config.json, `state` and `features` output.
//!
//! What is here: relations between fields, grammars that need code (SemVer, CPU lists,
//! RFC 3339), platform-dependent value sets, SHOULD-level advice, and the single-field rules
//! listed last in [`CONFIG`] that a JSON Schema could also express (the schema layer may take
//! any of those over; `no_requirement_is_judged_by_both_layers` then asks to delete the line
//! and its function here).
//!
//! Conventions shared by every check:
//!
//! - A value of the wrong type, or a required member that is missing, is the schema layer's
//!   finding; a rule ignores it rather than report the same defect twice.
//! - When the document holds nothing the rule is about (no hooks, no `linux.seccomp`, ...)
//!   the outcome is a skip that says so, not a pass: the report shows what was exercised.
//! - Rules the catalogue scopes to Linux or to POSIX platforms skip when the config says it
//!   targets another platform (it carries a `windows`, `solaris`, `freebsd` or `zos` object and
//!   no `linux` object). Otherwise a config is taken to target Linux, the platform this suite
//!   certifies. `state` documents are judged as Linux runtimes' output for the same reason.
//! - Runtime-behaviour rules on config values ("the runtime MUST generate an error if ...")
//!   belong to the runtime engine. Only requirements whose catalogue subject is `bundle`
//!   are judged on config.json; `state` and `features` are a runtime's own output, so their
//!   `runtime` requirements are judged here where the document alone decides them.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use oci_certify_core::check::{Check, Failure, Outcome};
use serde_json::Value;

use super::util::{each_item, each_member};
use crate::document::Doc;
use crate::json::escape_token;

/// Checks of a bundle's config.json.
pub const CONFIG: &[Check<Doc>] = &[
    Check::new(
        "runtime.glossary.json.no-duplicate-names",
        no_duplicate_names,
    ),
    Check::new("runtime.config.oci-version.semver", oci_version_semver),
    Check::new("runtime.config.root.path-rootfs", root_path_conventional),
    Check::new(
        "runtime.config.mounts.destination-linux-absolute",
        mount_destination_absolute,
    ),
    Check::new(
        "runtime.config.mounts.uid-mappings-paired",
        mount_uid_mappings_paired,
    ),
    Check::new(
        "runtime.config.mounts.gid-mappings-paired",
        mount_gid_mappings_paired,
    ),
    Check::new(
        "runtime.config.mounts.uid-mappings-idmap-option",
        mount_uid_mappings_idmap,
    ),
    Check::new(
        "runtime.config.mounts.gid-mappings-idmap-option",
        mount_gid_mappings_idmap,
    ),
    Check::new("runtime.config.process.env-optional", process_env_entries),
    Check::new(
        "runtime.config.process.rlimits-type-linux-values",
        rlimit_types_linux,
    ),
    Check::new(
        "runtime.config.process.capabilities-valid-names",
        capability_names,
    ),
    Check::new(
        "runtime.config.process.io-priority-priority-range",
        io_priority_range,
    ),
    Check::new(
        "runtime.config.process.exec-cpu-affinity-initial-format",
        exec_affinity_initial,
    ),
    Check::new(
        "runtime.config.process.exec-cpu-affinity-final-format",
        exec_affinity_final,
    ),
    Check::new("runtime.config.hooks.prestart.env-optional", prestart_env),
    Check::new(
        "runtime.config.hooks.create-runtime.env-optional",
        create_runtime_env,
    ),
    Check::new(
        "runtime.config.hooks.create-container.env-optional",
        create_container_env,
    ),
    Check::new(
        "runtime.config.hooks.start-container.env-optional",
        start_container_env,
    ),
    Check::new("runtime.config.hooks.poststart.env-optional", poststart_env),
    Check::new("runtime.config.hooks.poststop.env-optional", poststop_env),
    Check::new(
        "runtime.config.annotations.key-reverse-domain",
        annotation_keys_reverse_domain,
    ),
    Check::new(
        "runtime.config.annotations.oci-namespace-reserved",
        annotation_oci_namespace,
    ),
    Check::new(
        "runtime.config.annotations.image-created-value",
        annotation_image_created,
    ),
    Check::new(
        "runtime.config-linux.devices.major-minor-required",
        device_numbers_required,
    ),
    Check::new(
        "runtime.config-linux.devices.no-duplicate-numbers",
        device_numbers_unique,
    ),
    Check::new(
        "runtime.config-linux.memory.kernel-not-recommended",
        memory_kernel_unset,
    ),
    Check::new(
        "runtime.config-linux.memory.kernel-tcp-not-recommended",
        memory_kernel_tcp_unset,
    ),
    Check::new(
        "runtime.config-linux.cpu.quota-not-below-burst",
        cpu_quota_burst,
    ),
    Check::new(
        "runtime.config-linux.cpu.burst-not-above-quota",
        cpu_quota_burst,
    ),
    Check::new("runtime.config-linux.cpu.cpus-format", cpu_cpus_format),
    Check::new("runtime.config-linux.cpu.mems-format", cpu_mems_format),
    Check::new(
        "runtime.config-linux.block-io.weight-device-weight-or-leaf-weight",
        block_io_weight_device,
    ),
    Check::new("runtime.config-linux.rdma.at-least-one", rdma_limits),
    Check::new(
        "runtime.config-linux.intel-rdt.l3-cache-schema-prefix",
        l3_cache_schema_prefix,
    ),
    Check::new(
        "runtime.config-linux.intel-rdt.l3-cache-schema-no-newline",
        l3_cache_schema_one_line,
    ),
    Check::new(
        "runtime.config-linux.memory-policy.nodes-format",
        memory_policy_nodes_format,
    ),
    Check::new(
        "runtime.config-linux.memory-policy.nodes-match-mode",
        memory_policy_nodes_mode,
    ),
    Check::new(
        "runtime.config-linux.seccomp.listener-metadata-needs-path",
        seccomp_metadata_path,
    ),
    // Single-field rules a JSON Schema could also express (pattern, enum, minimum, minItems).
    // If the schema layer takes one over, delete its line and function here.
    Check::new("runtime.config.process.args-min-one", process_args),
    Check::new("runtime.config.hooks.prestart.path-absolute", prestart_path),
    Check::new(
        "runtime.config.hooks.create-runtime.path-absolute",
        create_runtime_path,
    ),
    Check::new(
        "runtime.config.hooks.create-container.path-absolute",
        create_container_path,
    ),
    Check::new(
        "runtime.config.hooks.start-container.path-absolute",
        start_container_path,
    ),
    Check::new(
        "runtime.config.hooks.poststart.path-absolute",
        poststart_path,
    ),
    Check::new("runtime.config.hooks.poststop.path-absolute", poststop_path),
    Check::new(
        "runtime.config.hooks.prestart.timeout-positive",
        prestart_timeout,
    ),
    Check::new(
        "runtime.config.hooks.create-runtime.timeout-positive",
        create_runtime_timeout,
    ),
    Check::new(
        "runtime.config.hooks.create-container.timeout-positive",
        create_container_timeout,
    ),
    Check::new(
        "runtime.config.hooks.start-container.timeout-positive",
        start_container_timeout,
    ),
    Check::new(
        "runtime.config.hooks.poststart.timeout-positive",
        poststart_timeout,
    ),
    Check::new(
        "runtime.config.hooks.poststop.timeout-positive",
        poststop_timeout,
    ),
    Check::new(
        "runtime.config-linux.namespaces.type-valid",
        namespace_types,
    ),
    Check::new(
        "runtime.config-linux.namespaces.path-absolute",
        namespace_paths,
    ),
    Check::new("runtime.config-linux.devices.type-valid", device_types),
    Check::new(
        "runtime.config-linux.memory.limit-values",
        memory_limit_values,
    ),
    Check::new(
        "runtime.config-linux.memory.swappiness-range",
        memory_swappiness,
    ),
    Check::new(
        "runtime.config-linux.seccomp.syscalls-names-non-empty",
        seccomp_names_non_empty,
    ),
    Check::new(
        "runtime.config-linux.seccomp.args-op-valid",
        seccomp_arg_ops,
    ),
    Check::new(
        "runtime.config-linux.rootfs-propagation.valid",
        rootfs_propagation,
    ),
    Check::new(
        "runtime.config-linux.masked-paths.absolute",
        masked_paths_absolute,
    ),
    Check::new(
        "runtime.config-linux.readonly-paths.absolute",
        readonly_paths_absolute,
    ),
    Check::new(
        "runtime.config-linux.personality.domain-valid",
        personality_domain,
    ),
    Check::new(
        "runtime.config-linux.personality.flags-none-supported",
        personality_flags,
    ),
];

/// Checks of a runtime's `state` output.
pub const STATE: &[Check<Doc>] = &[
    Check::new("runtime.runtime.state.pid-required-linux", state_pid_linux),
    Check::new(
        "runtime.runtime.state.status-extra-values-new-states",
        state_status_new_states,
    ),
    // Single-field rule a JSON Schema could also express.
    Check::new(
        "runtime.runtime.state.bundle-absolute",
        state_bundle_absolute,
    ),
];

/// Checks of a runtime's `features` output.
pub const FEATURES: &[Check<Doc>] = &[
    Check::new(
        "runtime.features.oci-version-max-not-below-min",
        features_version_order,
    ),
    Check::new(
        "runtime.features.no-undefined-properties",
        features_defined_properties,
    ),
    Check::new(
        "runtime.features-linux.namespaces.recognized",
        features_namespaces,
    ),
    Check::new(
        "runtime.features-linux.capabilities.recognized",
        features_capabilities,
    ),
    Check::new(
        "runtime.features-linux.seccomp.actions-recognized",
        features_seccomp_actions,
    ),
    Check::new(
        "runtime.features-linux.seccomp.operators-recognized",
        features_seccomp_operators,
    ),
    Check::new(
        "runtime.features-linux.seccomp.archs-recognized",
        features_seccomp_archs,
    ),
    Check::new(
        "runtime.features-linux.seccomp.known-flags-recognized",
        features_seccomp_known_flags,
    ),
    Check::new(
        "runtime.features-linux.seccomp.supported-flags-supported",
        features_seccomp_supported_flags,
    ),
    Check::new(
        "runtime.features-linux.memory-policy.modes-recognized",
        features_memory_policy_modes,
    ),
    Check::new(
        "runtime.features-linux.memory-policy.flags-recognized",
        features_memory_policy_flags,
    ),
];

// ---------------------------------------------------------------------------------------------
// Value sets written in the spec (or in the man pages it points to).

/// Capability names of capabilities(7), as of Linux 6.x (`CAP_LAST_CAP` is
/// `CAP_CHECKPOINT_RESTORE`, number 40). config.md, Linux Process, defers to that page.
const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Resource names of getrlimit(2) on Linux. config.md, POSIX process, defers to that page.
const RLIMITS: &[&str] = &[
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SIGPENDING",
    "RLIMIT_STACK",
];

/// config-linux.md, Namespaces.
const NAMESPACE_TYPES: &[&str] = &[
    "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time",
];

/// config-linux.md, Devices.
const DEVICE_TYPES: &[&str] = &["c", "b", "u", "p"];

/// config-linux.md, Seccomp: actions as of libseccomp v2.6.0.
const SECCOMP_ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

/// config-linux.md, Seccomp: argument comparison operators as of libseccomp v2.6.0.
const SECCOMP_OPERATORS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// config-linux.md, Seccomp: architectures as of libseccomp v2.6.0.
const SECCOMP_ARCHS: &[&str] = &[
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

/// config-linux.md, Seccomp: seccomp(2) filter flags.
const SECCOMP_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// config-linux.md, Memory policy: modes.
const MEMORY_POLICY_MODES: &[&str] = &[
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
];

/// config-linux.md, Memory policy: flags.
const MEMORY_POLICY_FLAGS: &[&str] = &[
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

/// config-linux.md, Rootfs Mount Propagation.
const ROOTFS_PROPAGATIONS: &[&str] = &["shared", "slave", "private", "unbindable"];

/// config-linux.md, Personality: execution domains.
const PERSONALITY_DOMAINS: &[&str] = &["LINUX", "LINUX32"];

/// config.md, Annotations: the keys of the `org.opencontainers` namespace the spec defines.
const OCI_ANNOTATION_KEYS: &[&str] = &[
    "org.opencontainers.image.os",
    "org.opencontainers.image.os.version",
    "org.opencontainers.image.os.features",
    "org.opencontainers.image.architecture",
    "org.opencontainers.image.variant",
    "org.opencontainers.image.author",
    "org.opencontainers.image.created",
    "org.opencontainers.image.stopSignal",
];

/// runtime.md, State: the predefined values of `status`.
const STATUSES: &[&str] = &["creating", "created", "running", "stopped"];

// ---------------------------------------------------------------------------------------------
// Shared machinery.

/// Collects the failures of one check and counts the values it looked at, so that a rule
/// with nothing to judge says so (a skip) instead of passing vacuously.
struct Tally<'d> {
    doc: &'d Doc,
    failures: Vec<Failure>,
    looked: usize,
}

impl<'d> Tally<'d> {
    fn new(doc: &'d Doc) -> Self {
        Tally {
            doc,
            failures: Vec::new(),
            looked: 0,
        }
    }

    /// One more value was judged.
    fn saw(&mut self) {
        self.looked += 1;
    }

    /// Records a violation at `pointer`.
    fn fail(
        &mut self,
        pointer: &str,
        message: impl Into<String>,
        expected: impl std::fmt::Display,
        actual: impl std::fmt::Display,
    ) {
        self.failures.push(
            self.doc
                .failure_at(pointer, message)
                .expected(expected)
                .actual(actual),
        );
    }

    /// The outcome of a check that judged exactly the values it saw: fail with every
    /// violation, otherwise pass.
    fn judged(self) -> Outcome {
        Outcome::from_failures(self.failures)
    }

    /// The outcome: fail with every violation, pass, or skip with `nothing` when no value
    /// was judged.
    fn done(self, nothing: impl Into<String>) -> Outcome {
        if !self.failures.is_empty() {
            Outcome::from_failures(self.failures)
        } else if self.looked == 0 {
            Outcome::skip(nothing)
        } else {
            Outcome::pass()
        }
    }
}

/// A JSON rendering of a value for messages, cut short when long.
fn show(v: &Value) -> String {
    let text = v.to_string();
    shorten(&text)
}

/// A string as JSON text, cut short when long.
fn show_str(s: &str) -> String {
    show(&Value::String(s.to_string()))
}

fn shorten(text: &str) -> String {
    const MAX: usize = 160;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// The pointer of a member of the object at `base`.
fn child(base: &str, key: &str) -> String {
    format!("{base}/{}", escape_token(key))
}

/// A member that is present and not `null` (features.md lets `null` stand for "unknown";
/// for config.json a `null` member is treated as absent too).
fn present<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.get(key).filter(|m| !m.is_null())
}

/// The platform a config targets when it is not Linux: it carries a platform object of
/// another POSIX or non-POSIX platform and no `linux` object.
fn other_platform(doc: &Doc) -> Option<&'static str> {
    let v = doc.value();
    if present(v, "linux").is_some() {
        return None;
    }
    ["windows", "solaris", "freebsd", "zos"]
        .into_iter()
        .find(|p| present(v, p).is_some())
}

/// A skip for Linux-only rules on a config for another platform.
fn unless_linux(doc: &Doc) -> Option<Outcome> {
    other_platform(doc).map(|p| {
        Outcome::skip(format!(
            "the config targets {p} (it has a `{p}` object and no `linux` object); this rule is for Linux"
        ))
    })
}

/// A skip for POSIX-platform rules on a Windows config.
fn unless_posix(doc: &Doc) -> Option<Outcome> {
    match other_platform(doc) {
        Some("windows") => Some(Outcome::skip(
            "the config targets Windows (it has a `windows` object); this rule is for POSIX platforms",
        )),
        _ => None,
    }
}

/// Judges every string element of the array at `pointer` with `judge`, which returns the
/// problem (message, expected) when the element is wrong. Non-strings are the schema's.
fn each_string_item(
    tally: &mut Tally<'_>,
    root: &Value,
    pointer: &str,
    mut judge: impl FnMut(&str) -> Option<(String, String)>,
) {
    let mut found = Vec::new();
    each_item(root, pointer, |p, item| {
        if let Value::String(s) = item {
            found.push((p, s.as_str()));
        }
    });
    for (p, s) in found {
        tally.saw();
        if let Some((message, expected)) = judge(s) {
            tally.fail(&p, message, expected, show_str(s));
        }
    }
}

/// The note on a passing Features list: the document can only show that the names are
/// ones config.json may use; whether the runtime accepts them is for the runtime engine.
const RECOGNIZED_NOTE: &str =
    "every listed name is one config.json may use; whether the runtime accepts them is tested by the runtime engine";

/// Every element of a Features array of names must be in `set`.
fn names_in_set(doc: &Doc, pointer: &str, set: &[&str], what: &str, nothing: &str) -> Outcome {
    let mut tally = Tally::new(doc);
    each_string_item(&mut tally, doc.value(), pointer, |s| {
        (!set.contains(&s)).then(|| {
            (
                format!("{} is not a {what}", show_str(s)),
                format!("one of {}", set.join(", ")),
            )
        })
    });
    noted(tally.done(nothing))
}

/// A pass of a Features "recognized" rule, with [`RECOGNIZED_NOTE`].
fn noted(outcome: Outcome) -> Outcome {
    if outcome.is_pass() {
        Outcome::pass_with_note(RECOGNIZED_NOTE)
    } else {
        outcome
    }
}

/// Every string element of the array at `pointer` is an absolute path.
fn paths_absolute(doc: &Doc, pointer: &str, what: &str, nothing: &str) -> Outcome {
    let mut tally = Tally::new(doc);
    each_string_item(&mut tally, doc.value(), pointer, |s| {
        (!s.starts_with('/')).then(|| {
            (
                format!("{what} {} is not an absolute path", show_str(s)),
                "an absolute path, starting with /".to_string(),
            )
        })
    });
    tally.done(nothing)
}

/// The integer at a pointer, when it is one.
fn int_at(v: &Value, pointer: &str) -> Option<i128> {
    let n = v.pointer(pointer)?;
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

// ---------------------------------------------------------------------------------------------
// Grammars.

/// A parsed SemVer 2.0.0 version; numbers are kept as digit strings so that any size compares.
#[derive(Debug)]
struct SemVer<'a> {
    core: [&'a str; 3],
    pre: Vec<&'a str>,
}

fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Parses a SemVer 2.0.0 version (semver.org, the BNF of section "Backus–Naur Form Grammar"),
/// or says what is wrong with it.
fn parse_semver(s: &str) -> Result<SemVer<'_>, String> {
    let (rest, _build) = match s.split_once('+') {
        Some((rest, build)) => {
            if !build.split('.').all(is_ident) {
                return Err(format!(
                    "build metadata {} needs non-empty dot-separated identifiers of [0-9A-Za-z-]",
                    show_str(build)
                ));
            }
            (rest, Some(build))
        }
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let [major, minor, patch] = numbers[..] else {
        return Err(format!(
            "the version core {} is not three numbers MAJOR.MINOR.PATCH",
            show_str(core)
        ));
    };
    for n in [major, minor, patch] {
        if !is_numeric(n) {
            return Err(format!(
                "{} in the version core is not a number",
                show_str(n)
            ));
        }
        if n.len() > 1 && n.starts_with('0') {
            return Err(format!(
                "{} in the version core has a leading zero",
                show_str(n)
            ));
        }
    }
    let mut identifiers = Vec::new();
    if let Some(pre) = pre {
        for id in pre.split('.') {
            if !is_ident(id) {
                return Err(format!(
                    "pre-release {} needs non-empty dot-separated identifiers of [0-9A-Za-z-]",
                    show_str(pre)
                ));
            }
            if is_numeric(id) && id.len() > 1 && id.starts_with('0') {
                return Err(format!(
                    "the numeric pre-release identifier {} has a leading zero",
                    show_str(id)
                ));
            }
            identifiers.push(id);
        }
    }
    Ok(SemVer {
        core: [major, minor, patch],
        pre: identifiers,
    })
}

/// Compares digit strings without leading zeros by value.
fn cmp_numeric(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// SemVer precedence (semver.org, section 11); build metadata does not count.
fn semver_precedence(a: &SemVer<'_>, b: &SemVer<'_>) -> Ordering {
    for (x, y) in a.core.iter().zip(b.core.iter()) {
        match cmp_numeric(x, y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (a.pre.is_empty(), b.pre.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    for (x, y) in a.pre.iter().zip(b.pre.iter()) {
        let order = match (is_numeric(x), is_numeric(y)) {
            (true, true) => cmp_numeric(x, y),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.pre.len().cmp(&b.pre.len())
}

/// Checks a CPU or memory-node list: comma-separated numbers and `first-last` ranges with
/// `first <= last`, e.g. `0-3,7`. The empty string means "no list" and is accepted.
fn check_id_list(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    for part in s.split(',') {
        let number = |n: &str| -> Result<u64, String> {
            if !is_numeric(n) {
                return Err(format!("{} is not a number", show_str(n)));
            }
            n.parse::<u64>()
                .map_err(|_| format!("{} is too large", show_str(n)))
        };
        match part.split_once('-') {
            Some((first, last)) => {
                let (a, b) = (number(first)?, number(last)?);
                if a > b {
                    return Err(format!("the range {} runs backwards", show_str(part)));
                }
            }
            None => {
                number(part)?;
            }
        }
    }
    Ok(())
}

/// Checks an RFC 3339 `date-time` (section 5.6), including calendar ranges.
fn check_rfc3339(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let shape = || "not of the form YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)".to_string();
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return Err(shape());
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b't'))
    {
        return Err(shape());
    }
    let (Some(hour), Some(minute), Some(second)) = (digits(11..13), digits(14..16), digits(17..19))
    else {
        return Err(shape());
    };
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return Err(shape());
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(shape());
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => {}
        Some(b'+' | b'-') if i + 6 == b.len() => {
            let (Some(oh), Some(om)) = (digits(i + 1..i + 3), digits(i + 4..i + 6)) else {
                return Err(shape());
            };
            if b.get(i + 3) != Some(&b':') {
                return Err(shape());
            }
            if oh > 23 || om > 59 {
                return Err("the UTC offset is out of range".into());
            }
        }
        _ => return Err(shape()),
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(format!("month {month:02} does not exist")),
    };
    if day == 0 || day > days {
        return Err(format!(
            "day {day:02} does not exist in month {month:02} of {year}"
        ));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!(
            "the time {hour:02}:{minute:02}:{second:02} is out of range"
        ));
    }
    Ok(())
}

/// Whether an annotation key reads as reverse domain notation: at least two dot-separated
/// parts, none empty, the leading (domain) parts made of letters, digits and hyphens, the
/// first starting with a letter (`com.example.myKey`).
fn is_reverse_domain(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    let Some((last, domain)) = parts.split_last() else {
        return false;
    };
    !domain.is_empty()
        && !last.is_empty()
        && domain
            .first()
            .is_some_and(|d| d.starts_with(|c: char| c.is_ascii_alphabetic()))
        && domain
            .iter()
            .all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

// ---------------------------------------------------------------------------------------------
// config.json: glossary.md and config.md.

/// glossary.md, JSON: objects of the configuration never repeat a member name.
fn no_duplicate_names(doc: &Doc) -> Outcome {
    Outcome::from_failures(
        doc.document
            .duplicates
            .iter()
            .map(|d| {
                let pointer = format!("{}/{}", d.object, escape_token(&d.key));
                Failure::new(format!("member {:?} appears more than once", d.key))
                    .expected("each member name once per object")
                    .actual(format!(
                        "{:?} repeated at line {}, column {}",
                        d.key, d.at.line, d.at.column
                    ))
                    .at(doc.document.location(&pointer))
            })
            .collect(),
    )
}

/// config.md, Specification version: `ociVersion` follows SemVer 2.0.0.
fn oci_version_semver(doc: &Doc) -> Outcome {
    let Some(Value::String(v)) = doc.value().get("ociVersion") else {
        return Outcome::skip("ociVersion is absent or not a string; the schema layer reports it");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if let Err(why) = parse_semver(v) {
        tally.fail(
            "/ociVersion",
            format!(
                "ociVersion {} is not a SemVer 2.0.0 version: {why}",
                show_str(v)
            ),
            "MAJOR.MINOR.PATCH with optional -PRERELEASE and +BUILD, e.g. 1.3.0",
            show_str(v),
        );
    }
    tally.judged()
}

/// config.md, Root: on POSIX platforms `root.path` is best given as the conventional `rootfs`.
fn root_path_conventional(doc: &Doc) -> Outcome {
    if let Some(skip) = unless_posix(doc) {
        return skip;
    }
    let Some(Value::String(path)) = doc.value().pointer("/root/path") else {
        return Outcome::skip("root.path is absent or not a string; the schema layer reports it");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if path != "rootfs" {
        tally.fail(
            "/root/path",
            format!(
                "root.path is {}, not the conventional \"rootfs\"",
                show_str(path)
            ),
            "\"rootfs\"",
            show_str(path),
        );
    }
    tally.judged()
}

/// config.md, Mounts: on Linux a mount destination should be absolute (relative ones are a
/// deprecated compatibility form).
fn mount_destination_absolute(doc: &Doc) -> Outcome {
    if let Some(skip) = unless_linux(doc) {
        return skip;
    }
    let mut tally = Tally::new(doc);
    each_item(doc.value(), "/mounts", |p, mount| {
        if let Some(Value::String(dest)) = mount.get("destination") {
            tally.saw();
            if !dest.starts_with('/') {
                tally.fail(
                    &format!("{p}/destination"),
                    format!(
                        "mount destination {} is relative (deprecated)",
                        show_str(dest)
                    ),
                    "an absolute path inside the container, starting with /",
                    show_str(dest),
                );
            }
        }
    });
    tally.done("no mount has a destination string")
}

/// config.md, POSIX-platform Mounts: a mount with one of `uidMappings` / `gidMappings` also
/// has the other. `with` is the member that is present, `without` the one required with it.
fn mappings_paired(doc: &Doc, with: &str, without: &str) -> Outcome {
    if let Some(skip) = unless_posix(doc) {
        return skip;
    }
    let mut tally = Tally::new(doc);
    each_item(doc.value(), "/mounts", |p, mount| {
        if present(mount, with).is_some() {
            tally.saw();
            if present(mount, without).is_none() {
                tally.fail(
                    &format!("{p}/{with}"),
                    format!("the mount sets {with} but not {without}"),
                    format!("{without} given together with {with}"),
                    format!("{without} absent"),
                );
            }
        }
    });
    tally.done(format!("no mount sets {with}"))
}

/// config.md, POSIX-platform Mounts: `uidMappings` comes with `gidMappings`.
fn mount_uid_mappings_paired(doc: &Doc) -> Outcome {
    mappings_paired(doc, "uidMappings", "gidMappings")
}

/// config.md, POSIX-platform Mounts: `gidMappings` comes with `uidMappings`.
fn mount_gid_mappings_paired(doc: &Doc) -> Outcome {
    mappings_paired(doc, "gidMappings", "uidMappings")
}

/// config.md, POSIX-platform Mounts: a mount carrying `member` (an id mapping) should list
/// `idmap` or `ridmap` in its options.
fn mappings_idmap_option(doc: &Doc, member: &str) -> Outcome {
    if let Some(skip) = unless_posix(doc) {
        return skip;
    }
    let mut tally = Tally::new(doc);
    each_item(doc.value(), "/mounts", |p, mount| {
        if present(mount, member).is_none() {
            return;
        }
        tally.saw();
        let options: Vec<&str> = mount
            .get("options")
            .and_then(Value::as_array)
            .map(|o| o.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !options.iter().any(|o| *o == "idmap" || *o == "ridmap") {
            let at = if mount.get("options").is_some() {
                format!("{p}/options")
            } else {
                p.clone()
            };
            tally.fail(
                &at,
                format!("the mount sets {member} but its options name neither idmap nor ridmap"),
                "options containing \"idmap\" or \"ridmap\"",
                show(&Value::from(options)),
            );
        }
    });
    tally.done(format!("no mount sets {member}"))
}

/// config.md, POSIX-platform Mounts: with `uidMappings`, options should say `idmap`/`ridmap`.
fn mount_uid_mappings_idmap(doc: &Doc) -> Outcome {
    mappings_idmap_option(doc, "uidMappings")
}

/// config.md, POSIX-platform Mounts: with `gidMappings`, options should say `idmap`/`ridmap`.
fn mount_gid_mappings_idmap(doc: &Doc) -> Outcome {
    mappings_idmap_option(doc, "gidMappings")
}

/// The environ convention (IEEE Std 1003.1-2008, chapter 8.1), which config.md applies to
/// `process.env` and to hook `env`: every entry is `NAME=VALUE` with a non-empty name.
fn env_entries(doc: &Doc, pointer: &str, tally: &mut Tally<'_>) {
    each_string_item(tally, doc.value(), pointer, |s| match s.split_once('=') {
        Some((name, _)) if !name.is_empty() => None,
        Some(_) => Some((
            format!("environment entry {} has an empty name", show_str(s)),
            "NAME=VALUE with a non-empty NAME".to_string(),
        )),
        None => Some((
            format!("environment entry {} has no '='", show_str(s)),
            "NAME=VALUE".to_string(),
        )),
    });
}

/// config.md, Process: `process.env`, when used, holds `NAME=VALUE` entries (environ).
fn process_env_entries(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    env_entries(doc, "/process/env", &mut tally);
    tally.done("process.env has no entries")
}

/// config.md, POSIX process: on Linux an rlimit `type` is a getrlimit(2) resource name.
fn rlimit_types_linux(doc: &Doc) -> Outcome {
    if let Some(skip) = unless_linux(doc) {
        return skip;
    }
    let mut tally = Tally::new(doc);
    let mut types = Vec::new();
    each_item(doc.value(), "/process/rlimits", |p, entry| {
        if let Some(Value::String(t)) = entry.get("type") {
            types.push((format!("{p}/type"), t.as_str()));
        }
    });
    for (p, t) in types {
        tally.saw();
        if !RLIMITS.contains(&t) {
            tally.fail(
                &p,
                format!(
                    "rlimit type {} is not a Linux resource of getrlimit(2)",
                    show_str(t)
                ),
                format!("one of {}", RLIMITS.join(", ")),
                show_str(t),
            );
        }
    }
    tally.done("process.rlimits has no entries")
}

/// config.md, Linux Process: capability names are those of capabilities(7).
fn capability_names(doc: &Doc) -> Outcome {
    if let Some(skip) = unless_linux(doc) {
        return skip;
    }
    let mut tally = Tally::new(doc);
    for set in [
        "effective",
        "bounding",
        "inheritable",
        "permitted",
        "ambient",
    ] {
        each_string_item(
            &mut tally,
            doc.value(),
            &format!("/process/capabilities/{set}"),
            |s| {
                (!CAPABILITIES.contains(&s)).then(|| {
                    (
                        format!(
                            "{} in the {set} set is not a capability of capabilities(7)",
                            show_str(s)
                        ),
                        "a capability name such as CAP_CHOWN (upper case, CAP_ prefix)".to_string(),
                    )
                })
            },
        );
    }
    tally.done("process.capabilities lists no capability")
}

/// config.md, Linux Process: `ioPriority.priority` should lie between 0 and 7.
fn io_priority_range(doc: &Doc) -> Outcome {
    if let Some(skip) = unless_linux(doc) {
        return skip;
    }
    let Some(priority) = int_at(doc.value(), "/process/ioPriority/priority") else {
        return Outcome::skip("process.ioPriority.priority is not set (or not an integer)");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if !(0..=7).contains(&priority) {
        tally.fail(
            "/process/ioPriority/priority",
            format!("ioPriority.priority {priority} is outside 0 (highest) to 7 (lowest)"),
            "an integer from 0 to 7",
            priority,
        );
    }
    tally.judged()
}

/// A CPU-list string at `pointer`, judged with [`check_id_list`].
fn id_list_at(doc: &Doc, pointer: &str, what: &str) -> Outcome {
    let Some(Value::String(list)) = doc.value().pointer(pointer) else {
        return Outcome::skip(format!("{what} is not set (or not a string)"));
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if let Err(why) = check_id_list(list) {
        tally.fail(
            pointer,
            format!(
                "{what} {} is not a list of numbers and ranges: {why}",
                show_str(list)
            ),
            "comma-separated numbers and first-last ranges, e.g. 0-3,7",
            show_str(list),
        );
    }
    tally.judged()
}

/// config.md, Linux Process: `execCPUAffinity.initial` is a CPU list such as `0-3,7`.
fn exec_affinity_initial(doc: &Doc) -> Outcome {
    if let Some(skip) = unless_linux(doc) {
        return skip;
    }
    id_list_at(
        doc,
        "/process/execCPUAffinity/initial",
        "process.execCPUAffinity.initial",
    )
}

/// config.md, Linux Process: `execCPUAffinity.final` uses the same CPU-list format.
fn exec_affinity_final(doc: &Doc) -> Outcome {
    if let Some(skip) = unless_linux(doc) {
        return skip;
    }
    id_list_at(
        doc,
        "/process/execCPUAffinity/final",
        "process.execCPUAffinity.final",
    )
}

/// config.md, Process: on platforms other than Windows, a `process` carries `args` with at
/// least one element.
fn process_args(doc: &Doc) -> Outcome {
    if let Some(skip) = unless_posix(doc) {
        return skip;
    }
    let Some(process) = present(doc.value(), "process") else {
        return Outcome::skip("process is not set");
    };
    if !process.is_object() {
        return Outcome::skip("process is not an object; the schema layer reports it");
    }
    let mut tally = Tally::new(doc);
    tally.saw();
    match process.get("args") {
        Some(Value::Array(args)) if !args.is_empty() => {}
        Some(Value::Array(_)) => tally.fail(
            "/process/args",
            "process.args is empty",
            "at least one element, the program to execute",
            "[]",
        ),
        Some(other) => tally.fail(
            "/process/args",
            "process.args is not an array of strings",
            "an array of strings with at least one element",
            show(other),
        ),
        None => tally.fail(
            "/process",
            "process has no args",
            "process.args with at least one element, the program to execute",
            "args absent",
        ),
    }
    tally.judged()
}

/// config.md, POSIX-platform Hooks: a hook's `path` is absolute.
fn hook_path_absolute(doc: &Doc, kind: &str) -> Outcome {
    if let Some(skip) = unless_posix(doc) {
        return skip;
    }
    let mut tally = Tally::new(doc);
    each_item(doc.value(), &format!("/hooks/{kind}"), |p, hook| {
        if let Some(Value::String(path)) = hook.get("path") {
            tally.saw();
            if !path.starts_with('/') {
                tally.fail(
                    &format!("{p}/path"),
                    format!("{kind} hook path {} is not absolute", show_str(path)),
                    "an absolute path, starting with /",
                    show_str(path),
                );
            }
        }
    });
    tally.done(format!("no {kind} hook has a path"))
}

/// config.md, POSIX-platform Hooks: a hook `timeout`, when set, is above zero.
fn hook_timeout_positive(doc: &Doc, kind: &str) -> Outcome {
    if let Some(skip) = unless_posix(doc) {
        return skip;
    }
    let mut tally = Tally::new(doc);
    each_item(doc.value(), &format!("/hooks/{kind}"), |p, hook| {
        if let Some(Value::Number(n)) = hook.get("timeout") {
            tally.saw();
            if n.as_f64().is_some_and(|t| t <= 0.0) {
                tally.fail(
                    &format!("{p}/timeout"),
                    format!("{kind} hook timeout {n} is not greater than zero"),
                    "a number of seconds greater than zero",
                    n,
                );
            }
        }
    });
    tally.done(format!("no {kind} hook sets timeout"))
}

/// config.md, POSIX-platform Hooks: a hook's `env`, when used, holds `NAME=VALUE` entries.
fn hook_env(doc: &Doc, kind: &str) -> Outcome {
    if let Some(skip) = unless_posix(doc) {
        return skip;
    }
    let mut tally = Tally::new(doc);
    let mut pointers = Vec::new();
    each_item(doc.value(), &format!("/hooks/{kind}"), |p, _| {
        pointers.push(format!("{p}/env"))
    });
    for p in pointers {
        env_entries(doc, &p, &mut tally);
    }
    tally.done(format!("no {kind} hook has env entries"))
}

/// Declares the per-hook-array checks, which share one implementation each.
macro_rules! hook_checks {
    ($($kind:literal: $path:ident, $timeout:ident, $env:ident;)*) => {$(
        #[doc = concat!("config.md, POSIX-platform Hooks: every `", $kind, "` hook path is absolute.")]
        fn $path(doc: &Doc) -> Outcome {
            hook_path_absolute(doc, $kind)
        }

        #[doc = concat!("config.md, POSIX-platform Hooks: a `", $kind, "` hook timeout is above zero.")]
        fn $timeout(doc: &Doc) -> Outcome {
            hook_timeout_positive(doc, $kind)
        }

        #[doc = concat!("config.md, POSIX-platform Hooks: `", $kind, "` hook env entries are NAME=VALUE.")]
        fn $env(doc: &Doc) -> Outcome {
            hook_env(doc, $kind)
        }
    )*};
}

hook_checks! {
    "prestart": prestart_path, prestart_timeout, prestart_env;
    "createRuntime": create_runtime_path, create_runtime_timeout, create_runtime_env;
    "createContainer": create_container_path, create_container_timeout, create_container_env;
    "startContainer": start_container_path, start_container_timeout, start_container_env;
    "poststart": poststart_path, poststart_timeout, poststart_env;
    "poststop": poststop_path, poststop_timeout, poststop_env;
}

/// config.md, Annotations: keys should follow reverse domain notation (`com.example.myKey`).
/// The empty key is left to the rule that forbids it.
fn annotation_keys_reverse_domain(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    let mut keys = Vec::new();
    each_member(doc.value(), "/annotations", |p, key, _| keys.push((p, key)));
    for (p, key) in keys.into_iter().filter(|(_, k)| !k.is_empty()) {
        tally.saw();
        if !is_reverse_domain(key) {
            tally.fail(
                &p,
                format!(
                    "annotation key {} is not in reverse domain notation",
                    show_str(key)
                ),
                "a key such as com.example.myKey",
                show_str(key),
            );
        }
    }
    tally.done("annotations has no keys")
}

/// config.md, Annotations: the `org.opencontainers` key namespace is the spec's; only the keys
/// it defines may be used there.
fn annotation_oci_namespace(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    let mut keys = Vec::new();
    each_member(doc.value(), "/annotations", |p, key, _| keys.push((p, key)));
    for (p, key) in keys {
        if key == "org.opencontainers" || key.starts_with("org.opencontainers.") {
            tally.saw();
            if !OCI_ANNOTATION_KEYS.contains(&key) {
                tally.fail(
                    &p,
                    format!("annotation key {} is in the reserved org.opencontainers namespace but not defined by the spec", show_str(key)),
                    format!("one of {}, or a key outside org.opencontainers", OCI_ANNOTATION_KEYS.join(", ")),
                    show_str(key),
                );
            }
        }
    }
    tally.done("no annotation key is in the org.opencontainers namespace")
}

/// config.md, Annotations: `org.opencontainers.image.created` holds a valid image-spec
/// `created` value, an RFC 3339 date-time.
fn annotation_image_created(doc: &Doc) -> Outcome {
    let key = "org.opencontainers.image.created";
    let pointer = child("/annotations", key);
    let Some(Value::String(v)) = doc.value().pointer(&pointer) else {
        return Outcome::skip(format!("no {key} annotation with a string value"));
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if let Err(why) = check_rfc3339(v) {
        tally.fail(
            &pointer,
            format!("{key} {} is not an RFC 3339 date-time: {why}", show_str(v)),
            "an RFC 3339 date-time such as 2024-05-01T12:00:00Z",
            show_str(v),
        );
    }
    tally.judged()
}

// ---------------------------------------------------------------------------------------------
// config.json: config-linux.md.

/// config-linux.md, Namespaces: each namespace `type` is one of the eight Linux types.
fn namespace_types(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    let mut types = Vec::new();
    each_item(doc.value(), "/linux/namespaces", |p, ns| {
        if let Some(Value::String(t)) = ns.get("type") {
            types.push((format!("{p}/type"), t.as_str()));
        }
    });
    for (p, t) in types {
        tally.saw();
        if !NAMESPACE_TYPES.contains(&t) {
            tally.fail(
                &p,
                format!(
                    "namespace type {} is not a Linux namespace type",
                    show_str(t)
                ),
                format!("one of {}", NAMESPACE_TYPES.join(", ")),
                show_str(t),
            );
        }
    }
    tally.done("linux.namespaces has no entries with a type")
}

/// config-linux.md, Namespaces: a namespace `path` is absolute.
fn namespace_paths(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    each_item(doc.value(), "/linux/namespaces", |p, ns| {
        if let Some(Value::String(path)) = ns.get("path") {
            tally.saw();
            if !path.starts_with('/') {
                tally.fail(
                    &format!("{p}/path"),
                    format!("namespace path {} is not absolute", show_str(path)),
                    "an absolute path in the runtime mount namespace",
                    show_str(path),
                );
            }
        }
    });
    tally.done("no linux.namespaces entry has a path")
}

/// config-linux.md, Devices: each device `type` is `c`, `b`, `u` or `p`.
fn device_types(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    let mut types = Vec::new();
    each_item(doc.value(), "/linux/devices", |p, dev| {
        if let Some(Value::String(t)) = dev.get("type") {
            types.push((format!("{p}/type"), t.as_str()));
        }
    });
    for (p, t) in types {
        tally.saw();
        if !DEVICE_TYPES.contains(&t) {
            tally.fail(
                &p,
                format!("device type {} is not one of c, b, u, p", show_str(t)),
                "c (character), b (block), u (unbuffered character) or p (FIFO)",
                show_str(t),
            );
        }
    }
    tally.done("linux.devices has no entries with a type")
}

/// config-linux.md, Devices: a device other than a FIFO (`p`) has `major` and `minor`.
/// Entries without a string `type` are left to the rule that requires it.
fn device_numbers_required(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    each_item(doc.value(), "/linux/devices", |p, dev| {
        let Some(Value::String(t)) = dev.get("type") else {
            return;
        };
        if t == "p" {
            return;
        }
        tally.saw();
        let missing: Vec<&str> = ["major", "minor"]
            .into_iter()
            .filter(|m| present(dev, m).is_none())
            .collect();
        if !missing.is_empty() {
            tally.fail(
                &p,
                format!(
                    "device of type {} lacks {}",
                    show_str(t),
                    missing.join(" and ")
                ),
                "major and minor for every device type but p",
                format!("{} absent", missing.join(" and ")),
            );
        }
    });
    tally.done("linux.devices has no entries of a type other than p")
}

/// config-linux.md, Devices: no two devices share the same type, major and minor.
fn device_numbers_unique(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    let mut seen: BTreeMap<(String, i128, i128), String> = BTreeMap::new();
    let mut entries = Vec::new();
    each_item(doc.value(), "/linux/devices", |p, dev| {
        entries.push((p, dev))
    });
    for (p, dev) in entries {
        let (Some(Value::String(t)), Some(major), Some(minor)) = (
            dev.get("type"),
            int_at(dev, "/major"),
            int_at(dev, "/minor"),
        ) else {
            continue;
        };
        tally.saw();
        let key = (t.clone(), major, minor);
        if let Some(first) = seen.get(&key) {
            tally.fail(
                &p,
                format!("device repeats type {t}, major {major}, minor {minor} of {first}"),
                "each type, major and minor combination used by one device",
                format!("{t} {major}:{minor} at {first} and {p}"),
            );
        } else {
            seen.insert(key, p);
        }
    }
    tally.done("linux.devices has no entries with type, major and minor")
}

/// config-linux.md, Memory: the memory limits are byte counts, or -1 for unlimited.
fn memory_limit_values(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    for field in ["limit", "reservation", "swap", "kernel", "kernelTCP"] {
        let pointer = format!("/linux/resources/memory/{field}");
        if let Some(v) = int_at(doc.value(), &pointer) {
            tally.saw();
            if v < -1 {
                tally.fail(
                    &pointer,
                    format!("memory.{field} {v} is neither a byte count nor -1 (unlimited)"),
                    "a number of bytes (0 or more), or -1 for unlimited",
                    v,
                );
            }
        }
    }
    tally.done("linux.resources.memory sets no limit")
}

/// A memory member the spec advises against setting.
fn memory_member_unset(doc: &Doc, field: &str) -> Outcome {
    let pointer = format!("/linux/resources/memory/{field}");
    let Some(v) = doc.value().pointer(&pointer).filter(|v| !v.is_null()) else {
        return Outcome::skip(format!("linux.resources.memory.{field} is not set"));
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    tally.fail(
        &pointer,
        format!("memory.{field} is set; the spec does not recommend it"),
        format!("memory.{field} left unset"),
        show(v),
    );
    tally.judged()
}

/// config-linux.md, Memory: `kernel` is NOT RECOMMENDED.
fn memory_kernel_unset(doc: &Doc) -> Outcome {
    memory_member_unset(doc, "kernel")
}

/// config-linux.md, Memory: `kernelTCP` is NOT RECOMMENDED.
fn memory_kernel_tcp_unset(doc: &Doc) -> Outcome {
    memory_member_unset(doc, "kernelTCP")
}

/// config-linux.md, Memory: `swappiness` lies between 0 and 100.
fn memory_swappiness(doc: &Doc) -> Outcome {
    let pointer = "/linux/resources/memory/swappiness";
    let Some(Value::Number(n)) = doc.value().pointer(pointer) else {
        return Outcome::skip("linux.resources.memory.swappiness is not set (or not a number)");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if !n.as_f64().is_some_and(|s| (0.0..=100.0).contains(&s)) {
        tally.fail(
            pointer,
            format!("memory.swappiness {n} is outside 0 to 100"),
            "a value from 0 to 100",
            n,
        );
    }
    tally.judged()
}

/// config-linux.md, CPU: a positive `quota` is no smaller than `burst` (the spec states the
/// relation twice, once on each field; both requirements are judged by this function).
fn cpu_quota_burst(doc: &Doc) -> Outcome {
    let quota = int_at(doc.value(), "/linux/resources/cpu/quota");
    let burst = int_at(doc.value(), "/linux/resources/cpu/burst");
    let (Some(quota), Some(burst)) = (quota.filter(|q| *q > 0), burst) else {
        return Outcome::skip("linux.resources.cpu does not set both burst and a positive quota");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if burst > quota {
        tally.fail(
            "/linux/resources/cpu/burst",
            format!("cpu.burst {burst} is larger than cpu.quota {quota}"),
            format!("burst at most the quota, {quota}"),
            burst,
        );
    }
    tally.judged()
}

/// config-linux.md, CPU: `cpus` is a CPU list such as `0-3,7`.
fn cpu_cpus_format(doc: &Doc) -> Outcome {
    id_list_at(doc, "/linux/resources/cpu/cpus", "linux.resources.cpu.cpus")
}

/// config-linux.md, CPU: `mems` is a memory-node list such as `0-3,7`.
fn cpu_mems_format(doc: &Doc) -> Outcome {
    id_list_at(doc, "/linux/resources/cpu/mems", "linux.resources.cpu.mems")
}

/// config-linux.md, Block IO: each `weightDevice` entry sets `weight`, `leafWeight` or both.
fn block_io_weight_device(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    each_item(
        doc.value(),
        "/linux/resources/blockIO/weightDevice",
        |p, entry| {
            if !entry.is_object() {
                return;
            }
            tally.saw();
            if present(entry, "weight").is_none() && present(entry, "leafWeight").is_none() {
                tally.fail(
                    &p,
                    "weightDevice entry sets neither weight nor leafWeight",
                    "weight, leafWeight, or both",
                    "neither present",
                );
            }
        },
    );
    tally.done("linux.resources.blockIO.weightDevice has no entries")
}

/// config-linux.md, RDMA: each device entry sets `hcaHandles`, `hcaObjects` or both.
fn rdma_limits(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    each_member(doc.value(), "/linux/resources/rdma", |p, device, entry| {
        if !entry.is_object() {
            return;
        }
        tally.saw();
        if present(entry, "hcaHandles").is_none() && present(entry, "hcaObjects").is_none() {
            tally.fail(
                &p,
                format!(
                    "rdma entry for {} sets neither hcaHandles nor hcaObjects",
                    show_str(device)
                ),
                "hcaHandles, hcaObjects, or both",
                "neither present",
            );
        }
    });
    tally.done("linux.resources.rdma has no entries")
}

/// The `linux.intelRdt.l3CacheSchema` string, if set.
fn l3_cache_schema(doc: &Doc) -> Option<&str> {
    doc.value()
        .pointer("/linux/intelRdt/l3CacheSchema")
        .and_then(Value::as_str)
}

/// config-linux.md, IntelRdt: `l3CacheSchema` should begin with `L3:`.
fn l3_cache_schema_prefix(doc: &Doc) -> Outcome {
    let Some(schema) = l3_cache_schema(doc) else {
        return Outcome::skip("linux.intelRdt.l3CacheSchema is not set (or not a string)");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if !schema.starts_with("L3:") {
        tally.fail(
            "/linux/intelRdt/l3CacheSchema",
            format!("l3CacheSchema {} does not begin with L3:", show_str(schema)),
            "a schema beginning with L3:",
            show_str(schema),
        );
    }
    tally.judged()
}

/// config-linux.md, IntelRdt: `l3CacheSchema` should not contain newlines.
fn l3_cache_schema_one_line(doc: &Doc) -> Outcome {
    let Some(schema) = l3_cache_schema(doc) else {
        return Outcome::skip("linux.intelRdt.l3CacheSchema is not set (or not a string)");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if schema.contains(['\n', '\r']) {
        tally.fail(
            "/linux/intelRdt/l3CacheSchema",
            "l3CacheSchema contains a newline",
            "a single line",
            show_str(schema),
        );
    }
    tally.judged()
}

/// config-linux.md, Memory policy: `nodes` is a node list such as `0-3,7`.
fn memory_policy_nodes_format(doc: &Doc) -> Outcome {
    id_list_at(doc, "/linux/memoryPolicy/nodes", "linux.memoryPolicy.nodes")
}

/// config-linux.md, Memory policy: `nodes` agrees with `mode`, as set_mempolicy(2) lays
/// down: empty for MPOL_DEFAULT and MPOL_LOCAL; at least one node for MPOL_BIND,
/// MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE and MPOL_PREFERRED_MANY; either for
/// MPOL_PREFERRED (empty means local allocation).
fn memory_policy_nodes_mode(doc: &Doc) -> Outcome {
    let Some(Value::String(mode)) = doc.value().pointer("/linux/memoryPolicy/mode") else {
        return Outcome::skip("linux.memoryPolicy.mode is not set (or not a string)");
    };
    let nodes = doc.value().pointer("/linux/memoryPolicy/nodes");
    let empty = match nodes {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => {
            return Outcome::skip(
                "linux.memoryPolicy.nodes is not a string; the schema layer reports it",
            )
        }
    };
    let wants_empty = match mode.as_str() {
        "MPOL_DEFAULT" | "MPOL_LOCAL" => true,
        "MPOL_BIND" | "MPOL_INTERLEAVE" | "MPOL_WEIGHTED_INTERLEAVE" | "MPOL_PREFERRED_MANY" => {
            false
        }
        "MPOL_PREFERRED" => return Outcome::pass_with_note("MPOL_PREFERRED takes nodes or none"),
        _ => {
            return Outcome::skip(format!(
                "mode {} is not a known memory policy; the rule on modes reports it",
                show_str(mode)
            ))
        }
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if wants_empty && !empty {
        tally.fail(
            "/linux/memoryPolicy/nodes",
            format!("mode {mode} takes no nodes"),
            "nodes absent or empty",
            nodes.map(show).unwrap_or_default(),
        );
    } else if !wants_empty && empty {
        tally.fail(
            "/linux/memoryPolicy",
            format!("mode {mode} needs at least one node"),
            "a non-empty nodes list",
            nodes.map_or_else(|| "nodes absent".to_string(), show),
        );
    }
    tally.judged()
}

/// config-linux.md, Seccomp: `listenerMetadata` is only set together with `listenerPath`.
fn seccomp_metadata_path(doc: &Doc) -> Outcome {
    let Some(seccomp) = doc
        .value()
        .pointer("/linux/seccomp")
        .filter(|s| s.is_object())
    else {
        return Outcome::skip("linux.seccomp is not set");
    };
    if present(seccomp, "listenerMetadata").is_none() {
        return Outcome::skip("linux.seccomp.listenerMetadata is not set");
    }
    let mut tally = Tally::new(doc);
    tally.saw();
    if present(seccomp, "listenerPath").is_none() {
        tally.fail(
            "/linux/seccomp/listenerMetadata",
            "seccomp.listenerMetadata is set without listenerPath",
            "listenerPath set whenever listenerMetadata is",
            "listenerPath absent",
        );
    }
    tally.judged()
}

/// config-linux.md, Seccomp: each syscall rule names at least one syscall.
fn seccomp_names_non_empty(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    each_item(doc.value(), "/linux/seccomp/syscalls", |p, rule| {
        if let Some(Value::Array(names)) = rule.get("names") {
            tally.saw();
            if names.is_empty() {
                tally.fail(
                    &format!("{p}/names"),
                    "seccomp syscall rule names no syscall",
                    "at least one syscall name",
                    "[]",
                );
            }
        }
    });
    tally.done("linux.seccomp.syscalls has no rules with names")
}

/// config-linux.md, Seccomp: each argument `op` is one of the SCMP_CMP_* operators.
fn seccomp_arg_ops(doc: &Doc) -> Outcome {
    let mut tally = Tally::new(doc);
    let mut ops = Vec::new();
    each_item(doc.value(), "/linux/seccomp/syscalls", |p, rule| {
        each_item(rule, "/args", |a, arg| {
            if let Some(Value::String(op)) = arg.get("op") {
                ops.push((format!("{p}{a}/op"), op.as_str()));
            }
        });
    });
    for (p, op) in ops {
        tally.saw();
        if !SECCOMP_OPERATORS.contains(&op) {
            tally.fail(
                &p,
                format!(
                    "seccomp argument operator {} is not a SCMP_CMP_* operator",
                    show_str(op)
                ),
                format!("one of {}", SECCOMP_OPERATORS.join(", ")),
                show_str(op),
            );
        }
    }
    tally.done("no seccomp syscall rule has argument operators")
}

/// config-linux.md, Rootfs Mount Propagation: `rootfsPropagation` is shared, slave, private
/// or unbindable.
fn rootfs_propagation(doc: &Doc) -> Outcome {
    let Some(Value::String(p)) = doc.value().pointer("/linux/rootfsPropagation") else {
        return Outcome::skip("linux.rootfsPropagation is not set (or not a string)");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if !ROOTFS_PROPAGATIONS.contains(&p.as_str()) {
        tally.fail(
            "/linux/rootfsPropagation",
            format!(
                "rootfsPropagation {} is not a propagation the spec defines",
                show_str(p)
            ),
            format!("one of {}", ROOTFS_PROPAGATIONS.join(", ")),
            show_str(p),
        );
    }
    tally.judged()
}

/// config-linux.md, Masked Paths: every masked path is absolute.
fn masked_paths_absolute(doc: &Doc) -> Outcome {
    paths_absolute(
        doc,
        "/linux/maskedPaths",
        "masked path",
        "linux.maskedPaths has no entries",
    )
}

/// config-linux.md, Readonly Paths: every read-only path is absolute.
fn readonly_paths_absolute(doc: &Doc) -> Outcome {
    paths_absolute(
        doc,
        "/linux/readonlyPaths",
        "read-only path",
        "linux.readonlyPaths has no entries",
    )
}

/// config-linux.md, Personality: `domain` is LINUX or LINUX32.
fn personality_domain(doc: &Doc) -> Outcome {
    let Some(Value::String(d)) = doc.value().pointer("/linux/personality/domain") else {
        return Outcome::skip("linux.personality.domain is not set (or not a string)");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if !PERSONALITY_DOMAINS.contains(&d.as_str()) {
        tally.fail(
            "/linux/personality/domain",
            format!("personality domain {} is not LINUX or LINUX32", show_str(d)),
            "LINUX or LINUX32",
            show_str(d),
        );
    }
    tally.judged()
}

/// config-linux.md, Personality: no personality flags are defined, so `flags` lists none.
fn personality_flags(doc: &Doc) -> Outcome {
    let Some(Value::Array(flags)) = doc.value().pointer("/linux/personality/flags") else {
        return Outcome::skip("linux.personality.flags is not set (or not an array)");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    for (i, flag) in flags.iter().enumerate() {
        tally.fail(
            &format!("/linux/personality/flags/{i}"),
            format!(
                "personality flag {} is not supported: the spec defines none",
                show(flag)
            ),
            "an empty flags list",
            show(flag),
        );
    }
    tally.judged()
}

// ---------------------------------------------------------------------------------------------
// state (runtime.md, State).

/// runtime.md, State: on Linux, `pid` is present while the status is `created` or `running`,
/// and it is a process ID (a positive integer).
fn state_pid_linux(doc: &Doc) -> Outcome {
    let Some(Value::String(status)) = doc.value().get("status") else {
        return Outcome::skip("status is absent or not a string; the schema layer reports it");
    };
    if status != "created" && status != "running" {
        return Outcome::skip(format!(
            "status is {}; pid is required only while created or running",
            show_str(status)
        ));
    }
    let mut tally = Tally::new(doc);
    tally.saw();
    match doc.value().get("pid") {
        None | Some(Value::Null) => tally.fail(
            "",
            format!("status is {status} but the state has no pid"),
            "pid, the container process ID",
            "pid absent",
        ),
        Some(pid) => match int_at(pid, "") {
            Some(p) if p > 0 => {}
            Some(p) => tally.fail(
                "/pid",
                format!("pid {p} is not a process ID"),
                "a positive integer process ID",
                p,
            ),
            None => return Outcome::skip("pid is not an integer; the schema layer reports it"),
        },
    }
    tally.judged()
}

/// runtime.md, State: a runtime-defined `status` names a new state; it is not one of the
/// predefined states spelled differently (case or surrounding blanks).
fn state_status_new_states(doc: &Doc) -> Outcome {
    let Some(Value::String(status)) = doc.value().get("status") else {
        return Outcome::skip("status is absent or not a string; the schema layer reports it");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if !STATUSES.contains(&status.as_str()) {
        if let Some(same) = STATUSES
            .iter()
            .find(|s| status.trim().eq_ignore_ascii_case(s))
        {
            tally.fail(
                "/status",
                format!(
                    "status {} is the predefined state {same} spelled differently",
                    show_str(status)
                ),
                format!("\"{same}\" exactly, or a value naming a new state"),
                show_str(status),
            );
        }
    }
    tally.judged()
}

/// runtime.md, State: `bundle` is an absolute path.
fn state_bundle_absolute(doc: &Doc) -> Outcome {
    let Some(Value::String(bundle)) = doc.value().get("bundle") else {
        return Outcome::skip("bundle is absent or not a string; the schema layer reports it");
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if !bundle.starts_with('/') {
        tally.fail(
            "/bundle",
            format!("bundle {} is not an absolute path", show_str(bundle)),
            "the absolute path of the bundle directory",
            show_str(bundle),
        );
    }
    tally.judged()
}

// ---------------------------------------------------------------------------------------------
// features (features.md, features-linux.md).

/// The runtime-spec version whose Features properties [`FEATURE_PROPERTIES`] lists.
const FEATURES_VERSION: &str = "1.3.0";

/// The properties the Features structure of runtime-spec 1.3.0 defines, by object pointer.
/// `annotations` is a free map and not descended into.
const FEATURE_PROPERTIES: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "ociVersionMin",
            "ociVersionMax",
            "hooks",
            "mountOptions",
            "linux",
            "annotations",
            "potentiallyUnsafeConfigAnnotations",
        ],
    ),
    (
        "/linux",
        &[
            "namespaces",
            "capabilities",
            "cgroup",
            "seccomp",
            "apparmor",
            "selinux",
            "intelRdt",
            "memoryPolicy",
            "mountExtensions",
            "netDevices",
        ],
    ),
    (
        "/linux/cgroup",
        &["v1", "v2", "systemd", "systemdUser", "rdma"],
    ),
    (
        "/linux/seccomp",
        &[
            "enabled",
            "actions",
            "operators",
            "archs",
            "knownFlags",
            "supportedFlags",
        ],
    ),
    ("/linux/apparmor", &["enabled"]),
    ("/linux/selinux", &["enabled"]),
    ("/linux/intelRdt", &["enabled", "schemata", "monitoring"]),
    ("/linux/memoryPolicy", &["modes", "flags"]),
    ("/linux/mountExtensions", &["idmap"]),
    ("/linux/mountExtensions/idmap", &["enabled"]),
    ("/linux/netDevices", &["enabled"]),
];

/// features.md, Specification version: `ociVersionMax` is not lower than `ociVersionMin`
/// (SemVer precedence).
fn features_version_order(doc: &Doc) -> Outcome {
    let v = doc.value();
    let (Some(Value::String(min)), Some(Value::String(max))) =
        (v.get("ociVersionMin"), v.get("ociVersionMax"))
    else {
        return Outcome::skip(
            "ociVersionMin or ociVersionMax is absent or not a string; the schema layer reports it",
        );
    };
    let (lo, hi) = match (parse_semver(min), parse_semver(max)) {
        (Ok(lo), Ok(hi)) => (lo, hi),
        (Err(why), _) => {
            return Outcome::skip(format!(
                "ociVersionMin {} is not SemVer ({why}); the versions cannot be compared",
                show_str(min)
            ))
        }
        (_, Err(why)) => {
            return Outcome::skip(format!(
                "ociVersionMax {} is not SemVer ({why}); the versions cannot be compared",
                show_str(max)
            ))
        }
    };
    let mut tally = Tally::new(doc);
    tally.saw();
    if semver_precedence(&hi, &lo) == Ordering::Less {
        tally.fail(
            "/ociVersionMax",
            format!("ociVersionMax {max} is lower than ociVersionMin {min}"),
            format!("a version of {min} or later"),
            show_str(max),
        );
    }
    tally.judged()
}

/// features.md, Specification version: the structure holds only properties that the version
/// named by `ociVersionMax` defines. This suite knows the properties of runtime-spec 1.3.0;
/// since Features properties have only been added over the versions, a property unknown to
/// 1.3.0 is undefined in any version up to 1.3.0. For a newer `ociVersionMax` the rule is
/// skipped.
fn features_defined_properties(doc: &Doc) -> Outcome {
    let Some(Value::String(max)) = doc.value().get("ociVersionMax") else {
        return Outcome::skip(
            "ociVersionMax is absent or not a string; the schema layer reports it",
        );
    };
    let (Ok(max_v), Ok(known)) = (parse_semver(max), parse_semver(FEATURES_VERSION)) else {
        return Outcome::skip(format!(
            "ociVersionMax {} is not SemVer; the version whose properties apply is unknown",
            show_str(max)
        ));
    };
    if semver_precedence(&max_v, &known) == Ordering::Greater {
        return Outcome::skip(format!(
            "ociVersionMax is {max}; this suite knows the Features properties up to {FEATURES_VERSION}"
        ));
    }
    let mut tally = Tally::new(doc);
    for (object, allowed) in FEATURE_PROPERTIES {
        each_member(doc.value(), object, |p, key, _| {
            tally.saw();
            if !allowed.contains(&key) {
                let place = if object.is_empty() {
                    "the top level"
                } else {
                    object
                };
                tally.fail(
                    &p,
                    format!(
                        "property {} at {place} is not defined by runtime-spec {max}",
                        show_str(key)
                    ),
                    format!("only {}", allowed.join(", ")),
                    show_str(key),
                );
            }
        });
    }
    tally.done("the structure has no properties")
}

/// features-linux.md, Namespaces: a listed namespace is one config.json may name, since the
/// runtime claims to recognize it as a `linux.namespaces[].type`. Whether it really does is
/// the runtime engine's to test.
fn features_namespaces(doc: &Doc) -> Outcome {
    names_in_set(
        doc,
        "/linux/namespaces",
        NAMESPACE_TYPES,
        "namespace type config.json may use",
        "linux.namespaces is not listed",
    )
}

/// features-linux.md, Capabilities: a listed capability is a capabilities(7) name, the only
/// names `process.capabilities` may hold.
fn features_capabilities(doc: &Doc) -> Outcome {
    names_in_set(
        doc,
        "/linux/capabilities",
        CAPABILITIES,
        "capability of capabilities(7)",
        "linux.capabilities is not listed",
    )
}

/// features-linux.md, Seccomp: a listed action is one `syscalls[].action` may hold.
fn features_seccomp_actions(doc: &Doc) -> Outcome {
    names_in_set(
        doc,
        "/linux/seccomp/actions",
        SECCOMP_ACTIONS,
        "seccomp action config.json may use",
        "linux.seccomp.actions is not listed",
    )
}

/// features-linux.md, Seccomp: a listed operator is one `syscalls[].args[].op` may hold.
fn features_seccomp_operators(doc: &Doc) -> Outcome {
    names_in_set(
        doc,
        "/linux/seccomp/operators",
        SECCOMP_OPERATORS,
        "seccomp operator config.json may use",
        "linux.seccomp.operators is not listed",
    )
}

/// features-linux.md, Seccomp: a listed architecture is one `architectures` may hold.
fn features_seccomp_archs(doc: &Doc) -> Outcome {
    names_in_set(
        doc,
        "/linux/seccomp/archs",
        SECCOMP_ARCHS,
        "seccomp architecture config.json may use",
        "linux.seccomp.archs is not listed",
    )
}

/// features-linux.md, Seccomp: a listed known flag is one `linux.seccomp.flags` may hold.
fn features_seccomp_known_flags(doc: &Doc) -> Outcome {
    names_in_set(
        doc,
        "/linux/seccomp/knownFlags",
        SECCOMP_FLAGS,
        "seccomp flag config.json may use",
        "linux.seccomp.knownFlags is not listed",
    )
}

/// features-linux.md, Seccomp: a supported flag is a flag `linux.seccomp.flags` may hold and,
/// being recognized as well as supported, appears in `knownFlags` when that is listed.
fn features_seccomp_supported_flags(doc: &Doc) -> Outcome {
    let known: Option<Vec<&str>> = doc
        .value()
        .pointer("/linux/seccomp/knownFlags")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    let mut tally = Tally::new(doc);
    each_string_item(
        &mut tally,
        doc.value(),
        "/linux/seccomp/supportedFlags",
        |s| {
            if !SECCOMP_FLAGS.contains(&s) {
                Some((
                    format!("{} is not a seccomp flag config.json may use", show_str(s)),
                    format!("one of {}", SECCOMP_FLAGS.join(", ")),
                ))
            } else if known.as_ref().is_some_and(|k| !k.contains(&s)) {
                Some((
                    format!("supported flag {} is missing from knownFlags", show_str(s)),
                    "every supported flag also listed in knownFlags".to_string(),
                ))
            } else {
                None
            }
        },
    );
    noted(tally.done("linux.seccomp.supportedFlags is not listed"))
}

/// features-linux.md, MemoryPolicy: a listed mode is one `linux.memoryPolicy.mode` may hold.
fn features_memory_policy_modes(doc: &Doc) -> Outcome {
    names_in_set(
        doc,
        "/linux/memoryPolicy/modes",
        MEMORY_POLICY_MODES,
        "memory policy mode config.json may use",
        "linux.memoryPolicy.modes is not listed",
    )
}

/// features-linux.md, MemoryPolicy: a listed flag is one `linux.memoryPolicy.flags` may hold.
fn features_memory_policy_flags(doc: &Doc) -> Outcome {
    names_in_set(
        doc,
        "/linux/memoryPolicy/flags",
        MEMORY_POLICY_FLAGS,
        "memory policy flag config.json may use",
        "linux.memoryPolicy.flags is not listed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_grammar() {
        for ok in [
            "0.0.0",
            "1.3.0",
            "10.20.30",
            "1.0.0-rc.1",
            "1.0.0-0.3.7",
            "1.0.0-x-y.z+b.01",
            "1.1.0-rc.2",
            "1.0.0+20130313144700",
        ] {
            assert!(parse_semver(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1",
            "1.0",
            "v1.0.0",
            "1.0.0.0",
            "01.0.0",
            "1.02.0",
            "1.0.0-",
            "1.0.0-01",
            "1.0.0+",
            "1.0.0-a..b",
            "1.0.0 ",
            "1.x.0",
            "1.0.0-é",
        ] {
            assert!(parse_semver(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn semver_precedence_follows_section_11() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.1.0",
            "2.0.0",
            "10.0.0",
            "123456789012345678901234567890.0.0",
        ];
        for pair in order.windows(2) {
            let (a, b) = (
                parse_semver(pair[0]).unwrap(),
                parse_semver(pair[1]).unwrap(),
            );
            assert_eq!(semver_precedence(&a, &b), Ordering::Less, "{pair:?}");
            assert_eq!(semver_precedence(&b, &a), Ordering::Greater, "{pair:?}");
        }
        let (a, b) = (
            parse_semver("1.0.0+a").unwrap(),
            parse_semver("1.0.0+b").unwrap(),
        );
        assert_eq!(semver_precedence(&a, &b), Ordering::Equal);
    }

    #[test]
    fn id_lists() {
        for ok in ["", "0", "0-3,7", "2-3", "0,1,2", "5-5"] {
            assert!(check_id_list(ok).is_ok(), "{ok}");
        }
        for bad in [
            "3-1",
            "0,,1",
            ",",
            "a",
            "0-",
            "-1",
            "0 - 3",
            "1,2,",
            "0-3:2/4",
            "99999999999999999999",
        ] {
            assert!(check_id_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339() {
        for ok in [
            "2024-05-01T12:00:00Z",
            "2024-02-29T23:59:60.5+01:00",
            "1985-04-12t23:20:50.52z",
            "2015-10-22T08:45:27.123456789-07:00",
        ] {
            assert!(check_rfc3339(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01 12:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00+0100",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00Zjunk",
            "２０２４-05-01T12:00:00Z",
        ] {
            assert!(check_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reverse_domain() {
        for ok in [
            "com.example.myKey",
            "io.kubernetes.cri.sandbox-id",
            "org.opencontainers.image.os",
            "run.oci.hooks.x_y",
        ] {
            assert!(is_reverse_domain(ok), "{ok}");
        }
        for bad in [
            "myKey",
            "",
            ".com.example",
            "com..example",
            "com.example.",
            "1com.example",
            "kubernetes.io/config.seen",
            "com example.key",
        ] {
            assert!(!is_reverse_domain(bad), "{bad}");
        }
    }

    use crate::json::{Document, Limits};
    use oci_certify_core::check::Location;

    fn doc(kind: crate::schema::DocKind, text: &str) -> Doc {
        Doc {
            document: Document::parse("case.json", text.as_bytes(), Limits::default()).unwrap(),
            kind,
        }
    }

    fn config(text: &str) -> Doc {
        doc(crate::schema::DocKind::RuntimeConfig, text)
    }

    /// (pointer, line, expected, actual) of every failure.
    fn found(outcome: Outcome) -> Vec<(String, Option<u32>, String, String)> {
        match outcome {
            Outcome::Fail { failures } => failures
                .into_iter()
                .map(|f| match f.location {
                    Some(Location::Document { pointer, line, .. }) => (
                        pointer,
                        line,
                        f.expected.unwrap_or_default(),
                        f.actual.unwrap_or_default(),
                    ),
                    other => panic!("unexpected location {other:?}"),
                })
                .collect(),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn failures_point_at_the_offending_value() {
        let d = config(
            "{\"ociVersion\": \"1.3.0\",\n \"hooks\": {\"poststop\": [{\"path\": \"/ok\"},\n  {\"path\": \"rel/hook\"}]}}",
        );
        assert_eq!(
            found(poststop_path(&d)),
            vec![(
                "/hooks/poststop/1/path".to_string(),
                Some(3),
                "an absolute path, starting with /".to_string(),
                "\"rel/hook\"".to_string()
            )]
        );
        let d = config(r#"{"process": {"capabilities": {"bounding": ["CAP_KILL", "CAP_FLY"]}}}"#);
        let f = found(capability_names(&d));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, "/process/capabilities/bounding/1");
        assert_eq!(f[0].3, "\"CAP_FLY\"");
        let d = config(r#"{"annotations": {"a/b~c": "x", "com.example.k": "y"}}"#);
        assert_eq!(
            found(annotation_keys_reverse_domain(&d))[0].0,
            "/annotations/a~1b~0c"
        );
        let d = config(
            r#"{"linux": {"devices": [{"path": "/dev/a", "type": "c", "major": 1, "minor": 3},
                {"path": "/dev/b", "type": "c", "major": 1, "minor": 3}]}}"#,
        );
        let f = found(device_numbers_unique(&d));
        assert_eq!(f[0].0, "/linux/devices/1");
        assert!(f[0].3.contains("/linux/devices/0"), "{f:?}");
        let d = config(r#"{"process": {"cwd": "/"}}"#);
        assert_eq!(found(process_args(&d))[0].0, "/process");
        let d = config(r#"{"linux": {"memoryPolicy": {"mode": "MPOL_BIND"}}}"#);
        assert_eq!(
            found(memory_policy_nodes_mode(&d))[0].0,
            "/linux/memoryPolicy"
        );
        let d = config(
            r#"{"linux": {"seccomp": {"syscalls": [{"names": ["a"], "args": [{"op": "X"}]}]}}}"#,
        );
        assert_eq!(
            found(seccomp_arg_ops(&d))[0].0,
            "/linux/seccomp/syscalls/0/args/0/op"
        );
    }

    #[test]
    fn platform_scoped_rules_skip_other_platforms() {
        let windows = config(
            r#"{"process": {"cwd": "c:\\", "commandLine": "cmd.exe"}, "windows": {"layerFolders": []},
                "mounts": [{"destination": "c:\\data"}], "root": {"path": "\\\\?\\Volume{x}\\"},
                "hooks": {"prestart": [{"path": "rel"}]}}"#,
        );
        for check in [
            process_args,
            mount_destination_absolute,
            root_path_conventional,
            prestart_path,
        ] {
            assert!(matches!(check(&windows), Outcome::Skip { .. }));
        }
        let solaris =
            config(r#"{"solaris": {}, "process": {"rlimits": [{"type": "RLIMIT_VMEM"}]}}"#);
        assert!(matches!(rlimit_types_linux(&solaris), Outcome::Skip { .. }));
        // A config without any platform object is taken to target Linux.
        let bare = config(r#"{"process": {"rlimits": [{"type": "RLIMIT_VMEM"}]}}"#);
        assert!(rlimit_types_linux(&bare).is_fail());
        // A `linux` object wins over other platform objects.
        let both = config(r#"{"linux": {}, "solaris": {}, "mounts": [{"destination": "rel"}]}"#);
        assert!(mount_destination_absolute(&both).is_fail());
    }

    #[test]
    fn nothing_to_judge_is_a_skip_and_wrong_types_are_left_to_the_schema() {
        let empty = config("{}");
        for check in CONFIG
            .iter()
            .filter(|c| c.requirement != "runtime.glossary.json.no-duplicate-names")
        {
            let outcome = check.run(&empty);
            assert!(
                matches!(outcome, Outcome::Skip { .. }),
                "{}: {outcome:?}",
                check.requirement
            );
        }
        let typed_wrong = config(
            r#"{"ociVersion": 1, "root": [], "process": {"args": ["/p"], "env": [1], "capabilities": {"bounding": [2]}},
                "hooks": {"prestart": [{"path": 3, "timeout": "x"}]}, "annotations": [],
                "linux": {"namespaces": [{"type": 4}], "devices": [{"type": 5}], "maskedPaths": [6],
                          "resources": {"memory": {"limit": "x", "swappiness": "y"}, "cpu": {"cpus": 7}}}}"#,
        );
        for check in CONFIG {
            assert!(!check.run(&typed_wrong).is_fail(), "{}", check.requirement);
        }
        let state = doc(crate::schema::DocKind::RuntimeState, "{}");
        let features = doc(crate::schema::DocKind::RuntimeFeatures, r#"{"linux": []}"#);
        for check in STATE {
            assert!(
                matches!(check.run(&state), Outcome::Skip { .. }),
                "{}",
                check.requirement
            );
        }
        for check in FEATURES {
            assert!(
                matches!(check.run(&features), Outcome::Skip { .. }),
                "{}",
                check.requirement
            );
        }
    }

    /// Every pointer of a value, for the mutation test.
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, c)| pointers(c, child(&at, k), out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
            _ => {}
        }
        out.push(at);
    }

    #[test]
    fn checks_never_panic_on_mutated_documents() {
        let seeds = [
            (
                crate::schema::DocKind::RuntimeConfig,
                CONFIG,
                r#"{"ociVersion": "1.3.0-rc.1+b", "root": {"path": "rootfs"},
                    "process": {"cwd": "/", "args": ["/p"], "env": ["A=1"], "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 2}],
                                "capabilities": {"bounding": ["CAP_KILL"]}, "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 3},
                                "execCPUAffinity": {"initial": "0-3", "final": "1"}},
                    "mounts": [{"destination": "/d", "options": ["idmap"], "uidMappings": [], "gidMappings": []}],
                    "hooks": {"prestart": [{"path": "/h", "timeout": 1, "env": ["B=2"]}]},
                    "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z", "com.example.k": "v"},
                    "linux": {"namespaces": [{"type": "pid", "path": "/p"}], "devices": [{"type": "c", "major": 1, "minor": 3, "path": "/dev/x"}],
                              "resources": {"memory": {"limit": 1, "kernel": 1, "kernelTCP": 1, "swappiness": 1},
                                            "cpu": {"quota": 10, "burst": 5, "cpus": "0", "mems": "0"},
                                            "blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 1}]},
                                            "rdma": {"m": {"hcaHandles": 1}}},
                              "intelRdt": {"l3CacheSchema": "L3:0=1"}, "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0"},
                              "seccomp": {"listenerPath": "/s", "listenerMetadata": "m", "syscalls": [{"names": ["a"], "args": [{"op": "SCMP_CMP_EQ"}]}]},
                              "rootfsPropagation": "slave", "maskedPaths": ["/m"], "readonlyPaths": ["/r"],
                              "personality": {"domain": "LINUX", "flags": []}}}"#,
            ),
            (
                crate::schema::DocKind::RuntimeState,
                STATE,
                r#"{"ociVersion": "1.3.0", "id": "c", "status": "running", "pid": 1, "bundle": "/b"}"#,
            ),
            (
                crate::schema::DocKind::RuntimeFeatures,
                FEATURES,
                r#"{"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "linux": {"namespaces": ["pid"], "capabilities": ["CAP_KILL"],
                    "seccomp": {"actions": ["SCMP_ACT_LOG"], "operators": ["SCMP_CMP_EQ"], "archs": ["SCMP_ARCH_X86"],
                                "knownFlags": ["SECCOMP_FILTER_FLAG_LOG"], "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG"]},
                    "memoryPolicy": {"modes": ["MPOL_BIND"], "flags": ["MPOL_F_STATIC_NODES"]}, "cgroup": {"v1": true}}}"#,
            ),
        ];
        let hostile = [
            Value::Null,
            Value::Bool(true),
            serde_json::json!(-1),
            serde_json::json!(0),
            serde_json::json!(1.5),
            serde_json::json!(-9_223_372_036_854_775_808_i64),
            serde_json::json!(18_446_744_073_709_551_615_u64),
            serde_json::json!(""),
            serde_json::json!("-"),
            serde_json::json!("é\n\u{0}"),
            serde_json::json!("9999999999999999999999-1"),
            serde_json::json!([]),
            serde_json::json!([null, 1, "x", {}]),
            serde_json::json!({}),
            serde_json::json!({"": {"": []}}),
        ];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (kind, checks, text) in seeds {
            let base: Value = serde_json::from_str(text).unwrap();
            let mut all = Vec::new();
            pointers(&base, String::new(), &mut all);
            for _ in 0..1500 {
                let mut v = base.clone();
                for _ in 0..(1 + next() % 3) {
                    let at = &all[(next() % all.len() as u64) as usize];
                    let with = hostile[(next() % hostile.len() as u64) as usize].clone();
                    match v.pointer_mut(at) {
                        Some(slot) => *slot = with,
                        None => continue,
                    }
                }
                let text = v.to_string();
                let d = doc(kind, &text);
                for check in checks {
                    let _ = check.run(&d);
                }
            }
        }
    }

    #[test]
    fn shortening_is_char_safe() {
        let long = "é".repeat(500);
        let s = show_str(&long);
        assert!(s.ends_with('…'));
        assert!(s.chars().count() <= 161);
    }
}
