//! Capabilities (config.md "process.capabilities"): names to numbers, and the five sets
//! applied in the order the kernel allows: bounding (needs CAP_SETPCAP, so first), then
//! effective/permitted/inheritable with capset(2), then ambient.

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

/// What went wrong with capabilities.
#[derive(Debug, thiserror::Error)]
pub enum CapError {
    /// The kernel refused a change (environment: e.g. not in the host's bounding set).
    #[error("{what}: {errno}")]
    Os {
        /// What was being done.
        what: String,
        /// Why.
        errno: nix::errno::Errno,
    },
}

/// Every capability name this runtime knows, indexed by number.
pub const NAMES: &[&str] = &[
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

/// The number of a capability name (`CAP_KILL` → 5).
pub fn number(name: &str) -> Option<u32> {
    NAMES.iter().position(|n| *n == name).map(|i| i as u32)
}

/// A set as a 64-bit mask; names this kernel does not know are left out.
pub fn mask(set: Option<&Capabilities>) -> u64 {
    set.into_iter()
        .flatten()
        .filter_map(|c| number(&format!("CAP_{c}")))
        .filter(|n| *n < 64)
        .fold(0, |m, n| m | (1u64 << n))
}

/// The highest capability number the running kernel knows.
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// The masks of the five sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sets {
    /// Bounding.
    pub bounding: u64,
    /// Effective.
    pub effective: u64,
    /// Permitted.
    pub permitted: u64,
    /// Inheritable.
    pub inheritable: u64,
    /// Ambient.
    pub ambient: u64,
}

impl Sets {
    /// From the config.
    pub fn from_spec(c: &LinuxCapabilities) -> Sets {
        Sets {
            bounding: mask(c.bounding().as_ref()),
            effective: mask(c.effective().as_ref()),
            permitted: mask(c.permitted().as_ref()),
            inheritable: mask(c.inheritable().as_ref()),
            ambient: mask(c.ambient().as_ref()),
        }
    }

    /// Drops from the bounding set every capability not in it (before the user switch).
    pub fn apply_bounding(&self) -> Result<(), CapError> {
        for n in 0..=last_cap().min(63) {
            if self.bounding & (1 << n) == 0 {
                // SAFETY: prctl with integer arguments only.
                #[allow(unsafe_code)]
                let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, n as libc::c_ulong, 0, 0, 0) };
                if r < 0 {
                    let errno = nix::errno::Errno::last();
                    // EINVAL: the kernel does not know this capability.
                    if errno != nix::errno::Errno::EINVAL {
                        return Err(CapError::Os {
                            what: format!("drop {} from the bounding set", NAMES[n as usize]),
                            errno,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Sets effective, permitted and inheritable, then raises the ambient ones. A capability
    /// the process cannot hold is a warning since runtime-spec 1.1, so ambient raises that
    /// the kernel refuses (not inheritable) are skipped.
    pub fn apply_process(&self) -> Result<(), CapError> {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let header = Header {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let split = |m: u64| [m as u32, (m >> 32) as u32];
        let (e, p, i) = (
            split(self.effective & self.permitted),
            split(self.permitted),
            split(self.inheritable),
        );
        let data = [
            Data {
                effective: e[0],
                permitted: p[0],
                inheritable: i[0],
            },
            Data {
                effective: e[1],
                permitted: p[1],
                inheritable: i[1],
            },
        ];
        // SAFETY: capset reads one header and two data structs laid out as the kernel's
        // __user_cap_header_struct and __user_cap_data_struct (version 3); both live across
        // the call.
        #[allow(unsafe_code)]
        let r = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
        if r < 0 {
            return Err(CapError::Os {
                what: "capset".into(),
                errno: nix::errno::Errno::last(),
            });
        }
        for n in 0..=last_cap().min(63) {
            if self.ambient & (1 << n) != 0 {
                // SAFETY: prctl with integer arguments only.
                #[allow(unsafe_code)]
                let _ = unsafe {
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        n as libc::c_ulong,
                        0,
                        0,
                    )
                };
            }
        }
        Ok(())
    }
}

/// Keep (or stop keeping) permitted capabilities across a change of uid.
pub fn keep_caps(on: bool) -> Result<(), CapError> {
    // SAFETY: prctl with integer arguments only.
    #[allow(unsafe_code)]
    let r = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) };
    if r < 0 {
        return Err(CapError::Os {
            what: "PR_SET_KEEPCAPS".into(),
            errno: nix::errno::Errno::last(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_masks() {
        assert_eq!(NAMES.len(), 41);
        assert_eq!(number("CAP_KILL"), Some(5));
        assert_eq!(number("CAP_CHECKPOINT_RESTORE"), Some(40));
        let c: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL"]
        }))
        .unwrap();
        let s = Sets::from_spec(&c);
        assert_eq!(s.bounding, (1 << 5) | (1 << 10));
        assert_eq!(s.effective, 1 << 5);
        assert_eq!(s.ambient, 0);
    }
}
