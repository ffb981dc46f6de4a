//! Seccomp (config-linux.md "Seccomp"): the config's rules compiled to a classic BPF program
//! by hand, one block per (syscall, rule):
//!
//! ```text
//!   ld  arch ; jeq NATIVE ? next : ret KILL_PROCESS
//! rule:
//!   ld  nr   ; jeq NR ? args : next-rule
//! args (each condition on a 64-bit argument, as two 32-bit words):
//!   ld  hi ; compare ; ld lo ; compare     (a false condition jumps to next-rule)
//!   ret ACTION
//! next-rule: ...
//!   ret DEFAULT
//! ```
//!
//! Syscall names come from the `syscalls` crate's table for this architecture; names it does
//! not know are skipped, as libseccomp-based runtimes do.

use std::str::FromStr;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};

/// What went wrong with seccomp.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile asks for something this runtime does not implement (input).
    #[error("seccomp: {0}")]
    Unsupported(String),
    /// The program is too large or a jump too long (input: a huge profile).
    #[error("seccomp: the filter does not fit classic BPF: {0}")]
    TooLarge(String),
    /// The kernel refused the filter (environment).
    #[error("seccomp: installing the filter failed: {0}")]
    Install(nix::errno::Errno),
}

/// One classic BPF instruction (struct sock_filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump if true.
    pub jt: u8,
    /// Jump if false.
    pub jf: u8,
    /// Constant.
    pub k: u32,
}

const LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20)
const JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const JGT_K: u16 = 0x05 | 0x20;
const JGE_K: u16 = 0x05 | 0x30;
const ALU_AND_K: u16 = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K
const RET_K: u16 = 0x06;
const JA: u16 = 0x05;

/// AUDIT_ARCH_X86_64 / AUDIT_ARCH_AARCH64.
#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xc000_00b7;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const NATIVE_ARCH: u32 = 0;

const RET_KILL_PROCESS: u32 = 0x8000_0000;

/// The architecture names in profiles that mean this machine.
#[cfg(target_arch = "x86_64")]
pub const NATIVE_ARCH_NAMES: &[&str] = &["SCMP_ARCH_X86_64"];
/// The architecture names in profiles that mean this machine.
#[cfg(not(target_arch = "x86_64"))]
pub const NATIVE_ARCH_NAMES: &[&str] = &["SCMP_ARCH_AARCH64"];

/// Actions and operators this runtime implements (for `features`).
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
/// Operators (for `features`).
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];
/// Filter flags (for `features`).
pub const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC",
];

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<u32, SeccompError> {
    if a == LinuxSeccompAction::ScmpActNotify {
        return Err(SeccompError::Unsupported(
            "SCMP_ACT_NOTIFY is not implemented".into(),
        ));
    }
    Ok(a.as_u32(errno))
}

/// A jump target while assembling: an absolute instruction index.
#[derive(Debug, Clone, Copy)]
enum Target {
    Next,
    At(usize),
}

struct Asm {
    code: Vec<(Insn, Target, Target)>,
}

impl Asm {
    fn op(&mut self, code: u16, k: u32) {
        self.code.push((
            Insn {
                code,
                jt: 0,
                jf: 0,
                k,
            },
            Target::Next,
            Target::Next,
        ));
    }
    fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) -> usize {
        self.code.push((
            Insn {
                code,
                jt: 0,
                jf: 0,
                k,
            },
            jt,
            jf,
        ));
        self.code.len() - 1
    }
    fn finish(self) -> Result<Vec<Insn>, SeccompError> {
        let mut out = Vec::with_capacity(self.code.len());
        for (pc, (mut insn, jt, jf)) in self.code.into_iter().enumerate() {
            let rel = |t: Target| -> Result<u32, SeccompError> {
                match t {
                    Target::Next => Ok(0),
                    Target::At(abs) => abs
                        .checked_sub(pc + 1)
                        .map(|d| d as u32)
                        .ok_or_else(|| SeccompError::TooLarge("backward jump".into())),
                }
            };
            if insn.code == JA {
                insn.k = rel(jt)?;
            } else {
                let (t, f) = (rel(jt)?, rel(jf)?);
                insn.jt =
                    u8::try_from(t).map_err(|_| SeccompError::TooLarge(format!("jump of {t}")))?;
                insn.jf =
                    u8::try_from(f).map_err(|_| SeccompError::TooLarge(format!("jump of {f}")))?;
            }
            out.push(insn);
        }
        if out.len() > 4096 {
            return Err(SeccompError::TooLarge(format!(
                "{} instructions",
                out.len()
            )));
        }
        Ok(out)
    }
}

/// Offsets of `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
fn off_arg(i: usize, high: bool) -> u32 {
    16 + 8 * i as u32 + if high { 4 } else { 0 }
}

/// Emits the test of one argument condition; jumps to `fail` when it does not hold and
/// falls through when it does. Returns the indexes whose true-target must point at the
/// instruction after the condition ("holds").
fn condition(asm: &mut Asm, a: &LinuxSeccompArg, fail: usize) -> Vec<(usize, bool)> {
    let idx = a.index();
    let (v, v2) = (a.value(), a.value_two().unwrap_or(0));
    let (hi, lo) = ((v >> 32) as u32, v as u32);
    let fail = Target::At(fail);
    let mut holds = Vec::new();
    match a.op() {
        LinuxSeccompOperator::ScmpCmpEq | LinuxSeccompOperator::ScmpCmpNe => {
            let ne = a.op() == LinuxSeccompOperator::ScmpCmpNe;
            asm.op(LD_W_ABS, off_arg(idx, true));
            if ne {
                // hi differs → holds.
                holds.push((asm.jump(JEQ_K, hi, Target::Next, Target::Next), false));
                asm.op(LD_W_ABS, off_arg(idx, false));
                asm.jump(JEQ_K, lo, fail, Target::Next);
            } else {
                asm.jump(JEQ_K, hi, Target::Next, fail);
                asm.op(LD_W_ABS, off_arg(idx, false));
                asm.jump(JEQ_K, lo, Target::Next, fail);
            }
        }
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            // (arg & value) == valueTwo
            asm.op(LD_W_ABS, off_arg(idx, true));
            asm.op(ALU_AND_K, hi);
            asm.jump(JEQ_K, (v2 >> 32) as u32, Target::Next, fail);
            asm.op(LD_W_ABS, off_arg(idx, false));
            asm.op(ALU_AND_K, lo);
            asm.jump(JEQ_K, v2 as u32, Target::Next, fail);
        }
        op => {
            // Unsigned 64-bit order: decided by the high word unless equal.
            let (strict_hi, lo_op, lo_true_on_jump) = match op {
                LinuxSeccompOperator::ScmpCmpGt => (true, JGT_K, true),
                LinuxSeccompOperator::ScmpCmpGe => (true, JGE_K, true),
                LinuxSeccompOperator::ScmpCmpLt => (false, JGE_K, false),
                _ => (false, JGT_K, false), // LE
            };
            asm.op(LD_W_ABS, off_arg(idx, true));
            if strict_hi {
                // hi > vhi → holds; hi < vhi → fail; equal → compare lo.
                holds.push((asm.jump(JGT_K, hi, Target::Next, Target::Next), true));
                asm.jump(JEQ_K, hi, Target::Next, fail);
            } else {
                // hi < vhi → holds; hi > vhi → fail.
                asm.jump(JGT_K, hi, fail, Target::Next);
                holds.push((asm.jump(JEQ_K, hi, Target::Next, Target::Next), false));
            }
            asm.op(LD_W_ABS, off_arg(idx, false));
            if lo_true_on_jump {
                asm.jump(lo_op, lo, Target::Next, fail);
            } else {
                asm.jump(lo_op, lo, fail, Target::Next);
            }
        }
    }
    holds
}

/// Compiles a profile for this architecture.
pub fn compile(s: &LinuxSeccomp) -> Result<Vec<Insn>, SeccompError> {
    let takes_errno = |a: LinuxSeccompAction| {
        matches!(
            a,
            LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
        )
    };
    if s.default_errno_ret().is_some() && !takes_errno(s.default_action()) {
        return Err(SeccompError::Unsupported(format!(
            "defaultErrnoRet needs defaultAction SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {}",
            s.default_action()
        )));
    }
    if let Some(rule) = s
        .syscalls()
        .iter()
        .flatten()
        .find(|r| r.errno_ret().is_some() && !takes_errno(r.action()))
    {
        return Err(SeccompError::Unsupported(format!(
            "errnoRet on a {} rule ({:?}): only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one",
            rule.action(),
            rule.names()
        )));
    }
    let default = action(s.default_action(), s.default_errno_ret())?;
    let mut asm = Asm { code: Vec::new() };
    asm.op(LD_W_ABS, OFF_ARCH);
    asm.jump(JEQ_K, NATIVE_ARCH, Target::At(3), Target::At(2));
    asm.op(RET_K, RET_KILL_PROCESS);
    for rule in s.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default && rule.args().as_ref().is_none_or(|a| a.is_empty()) {
            continue;
        }
        for name in rule.names() {
            let Ok(nr) = syscalls::Sysno::from_str(name) else {
                continue;
            };
            // The block: ld nr; jeq; conditions; ret. Its end is patched once known.
            let start = asm.code.len();
            asm.op(LD_W_ABS, OFF_NR);
            let jeq = asm.jump(JEQ_K, nr.id() as u32, Target::Next, Target::Next);
            let mut fails = vec![(jeq, false)];
            let mut holds_all = Vec::new();
            for a in rule.args().iter().flatten() {
                if a.index() > 5 {
                    return Err(SeccompError::Unsupported(format!(
                        "argument index {} of {name}",
                        a.index()
                    )));
                }
                let before = asm.code.len();
                // Placeholder fail target, patched below.
                let holds = condition(&mut asm, a, usize::MAX);
                let after = asm.code.len();
                for i in before..after {
                    fails.push((i, true));
                }
                holds_all.push((holds, after));
            }
            asm.op(RET_K, act);
            let end = asm.code.len();
            // Point every "fail" (placeholder or the syscall mismatch) at the next block.
            for (i, is_cond) in fails {
                let entry = &mut asm.code[i];
                if !is_cond {
                    entry.2 = Target::At(end);
                    continue;
                }
                for t in [&mut entry.1, &mut entry.2] {
                    if matches!(t, Target::At(usize::MAX)) {
                        *t = Target::At(end);
                    }
                }
            }
            for (holds, after) in holds_all {
                for (i, on_true) in holds {
                    if on_true {
                        asm.code[i].1 = Target::At(after);
                    } else {
                        asm.code[i].2 = Target::At(after);
                    }
                }
            }
            debug_assert!(start < end);
        }
    }
    asm.op(RET_K, default);
    asm.finish()
}

/// The architectures of a profile that this runtime can filter; others are refused.
pub fn check_archs(s: &LinuxSeccomp) -> Result<(), SeccompError> {
    let archs: &[Arch] = s.architectures().as_deref().unwrap_or(&[]);
    if !archs.is_empty()
        && !archs
            .iter()
            .any(|a| NATIVE_ARCH_NAMES.contains(&a.to_string().as_str()))
    {
        return Err(SeccompError::Unsupported(format!(
            "none of the architectures {archs:?} is this machine's"
        )));
    }
    Ok(())
}

/// Installs the compiled filter on the calling thread.
pub fn install(s: &LinuxSeccomp, program: &[Insn]) -> Result<(), SeccompError> {
    let mut flags: libc::c_ulong = 0;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            #[allow(unreachable_patterns)]
            other => {
                return Err(SeccompError::Unsupported(format!("flag {other:?}")));
            }
        };
    }
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `program`, a slice of #[repr(C)] instructions with the layout
    // of struct sock_filter, alive for the call; the kernel copies it.
    #[allow(unsafe_code)]
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(SeccompError::Install(nix::errno::Errno::last()));
    }
    Ok(())
}

/// A tiny classic-BPF interpreter for the tests: runs `prog` on (arch, nr, args).
#[cfg(test)]
pub fn run(prog: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let load = |off: u32| -> u32 {
        match off {
            0 => nr,
            4 => arch,
            o if o >= 16 => {
                let i = ((o - 16) / 8) as usize;
                if (o - 16) % 8 == 4 {
                    (args[i] >> 32) as u32
                } else {
                    args[i] as u32
                }
            }
            _ => 0,
        }
    };
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let i = prog[pc];
        pc += 1;
        match i.code {
            LD_W_ABS => acc = load(i.k),
            ALU_AND_K => acc &= i.k,
            RET_K => return i.k,
            JA => pc += i.k as usize,
            c => {
                let t = match c {
                    JEQ_K => acc == i.k,
                    JGT_K => acc > i.k,
                    JGE_K => acc >= i.k,
                    _ => panic!("opcode {c:#x}"),
                };
                pc += if t { i.jt } else { i.jf } as usize;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    const ALLOW: u32 = 0x7fff_0000;

    #[test]
    fn names_and_default() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getcwd", "no_such_call"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS"}
            ]
        }));
        let prog = compile(&p).unwrap();
        let getcwd = syscalls::Sysno::getcwd.id() as u32;
        let mkdir = syscalls::Sysno::from_str("mkdir").unwrap().id() as u32;
        assert_eq!(run(&prog, NATIVE_ARCH, getcwd, [0; 6]), 0x0005_0000 | 13);
        assert_eq!(run(&prog, NATIVE_ARCH, mkdir, [0; 6]), 0x8000_0000);
        assert_eq!(run(&prog, NATIVE_ARCH, 0, [0; 6]), ALLOW);
        assert_eq!(run(&prog, 0x4000_0003, getcwd, [0; 6]), RET_KILL_PROCESS);
    }

    #[test]
    fn argument_operators_on_64_bits() {
        let nr = syscalls::Sysno::personality.id() as u32;
        let big = 0x1_0000_0005u64;
        for (op, value, v2, cases) in [
            ("SCMP_CMP_EQ", big, 0, vec![(big, true), (5, false)]),
            (
                "SCMP_CMP_NE",
                big,
                0,
                vec![(big, false), (5, true), (big + 1, true)],
            ),
            (
                "SCMP_CMP_GT",
                big,
                0,
                vec![
                    (big + 1, true),
                    (big, false),
                    (5, false),
                    (0x2_0000_0000, true),
                ],
            ),
            (
                "SCMP_CMP_GE",
                big,
                0,
                vec![(big, true), (big - 1, false), (0x2_0000_0000, true)],
            ),
            (
                "SCMP_CMP_LT",
                big,
                0,
                vec![
                    (big - 1, true),
                    (big, false),
                    (5, true),
                    (0x2_0000_0000, false),
                ],
            ),
            (
                "SCMP_CMP_LE",
                big,
                0,
                vec![(big, true), (big + 1, false), (0, true)],
            ),
            (
                "SCMP_CMP_MASKED_EQ",
                0xff,
                0x05,
                vec![(0x105, true), (0x106, false)],
            ),
        ] {
            let p = profile(serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                  "args": [{"index": 0, "value": value, "valueTwo": v2, "op": op}]}]
            }));
            let prog = compile(&p).unwrap();
            for (arg, hits) in cases {
                let got = run(&prog, NATIVE_ARCH, nr, [arg, 0, 0, 0, 0, 0]);
                assert_eq!(got != ALLOW, hits, "{op} {value:#x} with {arg:#x}");
            }
        }
    }

    #[test]
    fn two_conditions_are_anded() {
        let nr = syscalls::Sysno::personality.id() as u32;
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_LOG",
              "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]}]
        }));
        let prog = compile(&p).unwrap();
        assert_eq!(run(&prog, NATIVE_ARCH, nr, [1, 2, 0, 0, 0, 0]), 0x7ffc_0000);
        assert_eq!(run(&prog, NATIVE_ARCH, nr, [1, 3, 0, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn errno_ret_only_with_errno_or_trace() {
        let p =
            profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}));
        assert!(compile(&p).is_err());
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}));
        assert!(compile(&p).is_err());
    }

    #[test]
    fn notify_is_refused() {
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
        assert!(matches!(compile(&p), Err(SeccompError::Unsupported(_))));
    }
}
