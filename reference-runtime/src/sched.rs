//! Scheduling of the container process (config.md "process.scheduler", "process.ioPriority"):
//! sched_setattr(2) and ioprio_set(2), applied by the init while it still has its
//! privileges, and inherited across exec.

use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler,
};

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
    }
}
