//! Scheduling of the container process (config.md "process.scheduler", "process.ioPriority";
//! config-linux.md "Memory policy"): sched_setattr(2), ioprio_set(2) and set_mempolicy(2),
//! applied by the init while it still has its privileges, and inherited across exec.

use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxMemoryPolicy, LinuxSchedulerFlag, LinuxSchedulerPolicy,
    MemoryPolicyFlagType, MemoryPolicyModeType, Scheduler,
};

/// Memory policy modes this runtime recognizes (for `features`).
pub const MEMORY_POLICY_MODES: &[&str] = &[
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
];
/// Memory policy flags this runtime recognizes (for `features`).
pub const MEMORY_POLICY_FLAGS: &[&str] = &[
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

/// Parses a node list (`0-3,7`) into a bitmask of 64-bit words.
pub fn node_mask(list: &str) -> Result<Vec<u64>, SchedError> {
    let bad = || SchedError::Invalid(format!("memoryPolicy.nodes {list:?} is not a node list"));
    let mut words: Vec<u64> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>(), b.parse::<usize>()),
            None => (part.parse::<usize>(), part.parse::<usize>()),
        };
        let (a, b) = (a.map_err(|_| bad())?, b.map_err(|_| bad())?);
        if a > b || b >= 4096 {
            return Err(bad());
        }
        for n in a..=b {
            if words.len() <= n / 64 {
                words.resize(n / 64 + 1, 0);
            }
            words[n / 64] |= 1 << (n % 64);
        }
    }
    Ok(words)
}

/// The mode number (with flags) and node mask of a memory policy.
pub fn mempolicy(p: &LinuxMemoryPolicy) -> Result<(i32, Vec<u64>), SchedError> {
    let mode = match p.mode() {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    };
    let flags = p.flags().iter().flatten().fold(0i32, |f, flag| {
        f | match flag {
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
        }
    });
    let mask = match p.nodes() {
        Some(n) => node_mask(n)?,
        None => Vec::new(),
    };
    Ok((mode | flags, mask))
}

/// Applies the memory policy to the calling process.
pub fn set_memory_policy(p: &LinuxMemoryPolicy) -> Result<(), SchedError> {
    let (mode, mask) = mempolicy(p)?;
    let maxnode = (mask.len() * 64) as u64 + if mask.is_empty() { 0 } else { 1 };
    let ptr = if mask.is_empty() {
        std::ptr::null()
    } else {
        mask.as_ptr()
    };
    // SAFETY: set_mempolicy reads `maxnode` bits from `ptr` (null when there are no nodes);
    // the mask lives across the call.
    #[allow(unsafe_code)]
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    nix::errno::Errno::result(r)
        .map(drop)
        .map_err(|errno| SchedError::Os {
            what: "set_mempolicy",
            errno,
        })
}

/// What went wrong (the values are the bundle author's; the kernel judged them).
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    /// Out of the range the spec allows (input).
    #[error("{0}")]
    Invalid(String),
    /// The kernel refused (input or environment).
    #[error("{what}: {errno}")]
    Os {
        /// The call.
        what: &'static str,
        /// Why.
        errno: nix::errno::Errno,
    },
}

/// struct sched_attr, SCHED_ATTR_SIZE_VER1 (56 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    size: u32,
    /// Policy number.
    pub policy: u32,
    /// SCHED_FLAG_* bits.
    pub flags: u64,
    /// Nice value.
    pub nice: i32,
    /// Static priority.
    pub priority: u32,
    /// Deadline runtime (ns).
    pub runtime: u64,
    /// Deadline (ns).
    pub deadline: u64,
    /// Deadline period (ns).
    pub period: u64,
    util_min: u32,
    util_max: u32,
}

/// The sched_attr of a config's scheduler.
pub fn attr(s: &Scheduler) -> SchedAttr {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |f, flag| {
        f | match flag {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0).max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        util_min: 0,
        util_max: 0,
    }
}

/// Applies the scheduler to the calling process.
pub fn set_scheduler(s: &Scheduler) -> Result<(), SchedError> {
    let a = attr(s);
    // SAFETY: sched_setattr reads one sched_attr whose `size` field says how much; it lives
    // across the call.
    #[allow(unsafe_code)]
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a as *const SchedAttr, 0) };
    nix::errno::Errno::result(r)
        .map(drop)
        .map_err(|errno| SchedError::Os {
            what: "sched_setattr",
            errno,
        })
}

/// The ioprio value of a config's I/O priority.
pub fn ioprio(p: &LinuxIOPriority) -> Result<i32, SchedError> {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&p.priority()) {
        return Err(SchedError::Invalid(format!(
            "ioPriority.priority {} is outside 0..=7",
            p.priority()
        )));
    }
    Ok((class << 13) | p.priority() as i32)
}

/// Applies the I/O priority to the calling process.
pub fn set_io_priority(p: &LinuxIOPriority) -> Result<(), SchedError> {
    let value = ioprio(p)?;
    // SAFETY: ioprio_set takes three integers (IOPRIO_WHO_PROCESS, 0 = this process, value).
    #[allow(unsafe_code)]
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, value) };
    nix::errno::Errno::result(r)
        .map(drop)
        .map_err(|errno| SchedError::Os {
            what: "ioprio_set",
            errno,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let s: Scheduler = serde_json::from_value(serde_json::json!({
            "policy": "SCHED_FIFO", "priority": 10, "flags": ["SCHED_RESET_ON_FORK"]
        }))
        .unwrap();
        let a = attr(&s);
        assert_eq!((a.policy, a.priority, a.flags), (1, 10, 1));
        assert_eq!(std::mem::size_of::<SchedAttr>(), 56);
        let p: LinuxIOPriority = serde_json::from_value(
            serde_json::json!({"class": "IOPRIO_CLASS_IDLE", "priority": 4}),
        )
        .unwrap();
        assert_eq!(ioprio(&p).unwrap(), (3 << 13) | 4);
        let bad: LinuxIOPriority =
            serde_json::from_value(serde_json::json!({"class": "IOPRIO_CLASS_BE", "priority": 9}))
                .unwrap();
        assert!(ioprio(&bad).is_err());
        assert_eq!(node_mask("0-3,7").unwrap(), vec![0b1000_1111]);
        assert_eq!(node_mask("64").unwrap(), vec![0, 1]);
        assert!(node_mask("3-1").is_err());
        let m: LinuxMemoryPolicy = serde_json::from_value(serde_json::json!({
            "mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]
        }))
        .unwrap();
        assert_eq!(mempolicy(&m).unwrap(), (3 | (1 << 15), vec![1]));
    }
}
