//! A mutating runtime wrapper for the suite's sensitivity tests: it sits in front of a real
//! runc-compatible runtime and breaks exactly one behaviour, chosen by
//! `OCI_CERTIFY_MUTATION`. The real runtime is `OCI_CERTIFY_REAL_RUNTIME` (default
//! `/usr/sbin/runc`). With no mutation it passes every call through unchanged.
//!
//! Mutations that rewrite config.json before `create` change one property; the others lie in
//! `state`, ignore `kill`, or run the program at `create`.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use serde_json::{json, Value};

const OPS: &[&str] = &["create", "start", "state", "kill", "delete", "features"];

fn real() -> Command {
    Command::new(
        std::env::var("OCI_CERTIFY_REAL_RUNTIME").unwrap_or_else(|_| "/usr/sbin/runc".into()),
    )
}

/// Runs the real runtime with `args`, inheriting stdio (the container keeps them on create).
fn pass_through(args: &[String]) -> ExitCode {
    match real().args(args).status() {
        Ok(s) => ExitCode::from(s.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("mutant: cannot run the real runtime: {e}");
            ExitCode::from(1)
        }
    }
}

fn bundle_of(args: &[String]) -> Option<PathBuf> {
    args.iter()
        .position(|a| a == "--bundle" || a == "-b")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
}

fn edit_config(bundle: &std::path::Path, edit: impl FnOnce(&mut Value)) {
    let path = bundle.join("config.json");
    let Ok(text) = std::fs::read(&path) else {
        return;
    };
    let Ok(mut config) = serde_json::from_slice::<Value>(&text) else {
        return;
    };
    edit(&mut config);
    if let Ok(bytes) = serde_json::to_vec_pretty(&config) {
        let _ = std::fs::write(path, bytes);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mutation = std::env::var("OCI_CERTIFY_MUTATION").unwrap_or_default();
    let op = args
        .iter()
        .find(|a| OPS.contains(&a.as_str()))
        .cloned()
        .unwrap_or_default();
    let id = args.last().cloned().unwrap_or_default();
    match (mutation.as_str(), op.as_str()) {
        (m, "create") if CONFIG_MUTATIONS.contains(&m) => {
            if let Some(bundle) = bundle_of(&args) {
                edit_config(&bundle, |c| mutate_config(m, c));
            }
            pass_through(&args)
        }
        (m, "create") if GROUP_MUTATIONS.contains(&m) => {
            if let Some(bundle) = bundle_of(&args) {
                edit_config(&bundle, |c| mutate_group_config(m, &id, c));
            }
            pass_through(&args)
        }
        ("refuse-errno-ret", "create")
            if bundle_of(&args).is_some_and(|b| errno_ret_misused(&b)) =>
        {
            eprintln!("mutant: errnoRet given to an action that cannot return an errno");
            ExitCode::from(1)
        }
        ("refuse-device-conflict", "create")
            if bundle_of(&args).is_some_and(|b| device_over_file(&b)) =>
        {
            eprintln!("mutant: a file of the rootfs is in the way of a device");
            ExitCode::from(1)
        }
        ("run-at-create", "create") => {
            let code = pass_through(&args);
            let globals: Vec<String> = args
                .iter()
                .take_while(|a| *a != "create")
                .cloned()
                .collect();
            let _ = real()
                .args(&globals)
                .args(["start", &id])
                .stdout(Stdio::null())
                .status();
            code
        }
        ("ignore-kill", "kill") => ExitCode::SUCCESS,
        ("start-twice-ok", "start") => {
            let _ = pass_through(&args);
            ExitCode::SUCCESS
        }
        ("delete-running-ok", "delete") if !args.iter().any(|a| a == "--force" || a == "-f") => {
            let code = pass_through(&args);
            if code == ExitCode::SUCCESS {
                code
            } else {
                ExitCode::SUCCESS
            }
        }
        ("state-lies", "state") => {
            let out = match real().args(&args).output() {
                Ok(o) => o,
                Err(_) => return ExitCode::from(1),
            };
            let text = String::from_utf8_lossy(&out.stdout).replace("\"running\"", "\"created\"");
            print!("{text}");
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            ExitCode::from(out.status.code().unwrap_or(1).clamp(0, 255) as u8)
        }
        _ => pass_through(&args),
    }
}

const CONFIG_MUTATIONS: &[&str] = &[
    "args",
    "env",
    "cwd",
    "uid",
    "umask",
    "caps",
    "no-new-privs",
    "rlimit-soft",
    "rlimit-hard",
    "oom",
    "hostname",
    "sysctl",
    "masked",
    "readonly",
    "root-rw",
    "share-uts",
];

/// Config mutations change only the container whose probe reports (the process group's), so
/// each one breaks exactly one observed property.
fn mutate_config(m: &str, c: &mut Value) {
    if c.pointer("/process/args/1") != Some(&json!("report")) {
        return;
    }
    let p = &mut c["process"];
    match m {
        "args" => {
            if let Some(a) = p["args"].as_array_mut() {
                a.push(json!("--path"));
                a.push(json!("/etc"));
            }
        }
        "env" => p["env"] = json!(["PATH=/bin"]),
        "cwd" => p["cwd"] = json!("/"),
        "uid" => p["user"]["uid"] = json!(1001),
        "umask" => p["user"]["umask"] = json!(18),
        "caps" => p["capabilities"]["bounding"] = json!(["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]),
        "no-new-privs" => p["noNewPrivileges"] = json!(false),
        "rlimit-soft" => p["rlimits"][0]["soft"] = json!(511),
        "rlimit-hard" => p["rlimits"][0]["hard"] = json!(999),
        "oom" => p["oomScoreAdj"] = json!(7),
        "hostname" => c["hostname"] = json!("mutated"),
        "sysctl" => c["linux"]["sysctl"] = json!({}),
        "masked" => {
            if let Some(m) = c["linux"]["maskedPaths"].as_array_mut() {
                m.retain(|p| p != "/masked-file");
            }
        }
        "readonly" => c["linux"]["readonlyPaths"] = json!([]),
        "root-rw" => c["root"]["readonly"] = json!(false),
        "share-uts" => {
            if let Some(ns) = c["linux"]["namespaces"].as_array_mut() {
                ns.retain(|n| n["type"] != "uts");
            }
            // Without its own uts namespace a hostname cannot be set; drop it as runtimes
            // refuse the combination.
            if let Some(o) = c.as_object_mut() {
                o.remove("hostname");
            }
        }
        _ => {}
    }
}

/// Mutations of the cgroups, seccomp and devices groups' containers, each guarded by the probe
/// tag (`observe TAG`) or the probe mode of the container it changes.
const GROUP_MUTATIONS: &[&str] = &[
    "cg-memory-limit",
    "cg-memory-reservation",
    "cg-memory-swap",
    "cg-cpu-shares",
    "cg-cpu-quota",
    "cg-cpu-period",
    "cg-cpuset-cpus",
    "cg-pids",
    "cg-path",
    "cg-relative-moved",
    "sc-errno-ret",
    "sc-eperm",
    "sc-default-allow",
    "sc-no-filter",
    "sc-kill-ignored",
    "sc-kill-process-ignored",
    "dev-numbers",
    "dev-mode",
    "dev-uid",
    "dev-gid",
    "dev-fifo",
    "dev-outside",
    "dev-cgroup-order",
    "dev-default-null",
];

fn tagged(c: &Value, tag: &str) -> bool {
    c.pointer("/process/args/1") == Some(&json!("observe"))
        && c.pointer("/process/args/2") == Some(&json!(tag))
}

fn mutate_group_config(m: &str, id: &str, c: &mut Value) {
    let mib = 1024 * 1024;
    if tagged(c, "cgroups") {
        let r = &mut c["linux"]["resources"];
        match m {
            "cg-memory-limit" => r["memory"]["limit"] = json!(96 * mib),
            "cg-memory-reservation" => r["memory"]["reservation"] = json!(16 * mib),
            "cg-memory-swap" => r["memory"]["swap"] = json!(192 * mib),
            "cg-cpu-shares" => r["cpu"]["shares"] = json!(256),
            "cg-cpu-quota" => r["cpu"]["quota"] = json!(25_000),
            "cg-cpu-period" => r["cpu"]["period"] = json!(200_000),
            "cg-cpuset-cpus" => {
                if let Some(cpu) = r["cpu"].as_object_mut() {
                    cpu.remove("cpus");
                }
            }
            "cg-pids" => r["pids"]["limit"] = json!(64),
            "cg-path" => {
                let moved = format!("{}-moved", c["linux"]["cgroupsPath"].as_str().unwrap_or(""));
                c["linux"]["cgroupsPath"] = json!(moved);
            }
            _ => {}
        }
    } else if tagged(c, "cgroups-relative") {
        if m == "cg-relative-moved" && id.ends_with("-cgroups-relative-again") {
            let moved = format!("{}-moved", c["linux"]["cgroupsPath"].as_str().unwrap_or(""));
            c["linux"]["cgroupsPath"] = json!(moved);
        }
    } else if tagged(c, "seccomp") {
        let sc = &mut c["linux"]["seccomp"];
        match m {
            "sc-errno-ret" => sc["syscalls"][0]["errnoRet"] = json!(72),
            "sc-eperm" => sc["syscalls"][1]["errnoRet"] = json!(13),
            "sc-default-allow" => {
                if let Some(rules) = sc["syscalls"].as_array_mut() {
                    rules.push(
                        json!({"names": ["readlink", "readlinkat"], "action": "SCMP_ACT_ERRNO"}),
                    );
                }
            }
            "sc-no-filter" => {
                if let Some(linux) = c["linux"].as_object_mut() {
                    linux.remove("seccomp");
                }
            }
            _ => {}
        }
    } else if c.pointer("/process/args/1") == Some(&json!("syscall")) {
        let action = c.pointer("/linux/seccomp/syscalls/0/action").cloned();
        let ignored = match m {
            "sc-kill-ignored" => action == Some(json!("SCMP_ACT_KILL")),
            "sc-kill-process-ignored" => action == Some(json!("SCMP_ACT_KILL_PROCESS")),
            _ => false,
        };
        if ignored {
            c["linux"]["seccomp"]["syscalls"][0]["action"] = json!("SCMP_ACT_ERRNO");
        }
    } else if tagged(c, "devices") {
        let d = &mut c["linux"]["devices"];
        match m {
            "dev-numbers" => d[0]["minor"] = json!(7),
            "dev-mode" => d[0]["fileMode"] = json!(0o644),
            "dev-uid" => d[0]["uid"] = json!(1001),
            "dev-gid" => d[0]["gid"] = json!(2001),
            "dev-fifo" => {
                if let Some(list) = d.as_array_mut() {
                    list.retain(|e| e["type"] != "p");
                }
            }
            "dev-outside" => {
                if let Some(list) = d.as_array_mut() {
                    list.retain(|e| e["path"].as_str().is_some_and(|p| p.starts_with("/dev/")));
                }
            }
            "dev-default-null" => {
                if let Some(list) = d.as_array_mut() {
                    list.push(json!({"path": "/dev/null", "type": "c", "major": 1, "minor": 7}));
                }
            }
            "dev-cgroup-order" => {
                if let Some(rules) = c["linux"]["resources"]["devices"].as_array_mut() {
                    rules.reverse();
                }
            }
            _ => {}
        }
    }
}

fn read_config(bundle: &std::path::Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(bundle.join("config.json")).ok()?).ok()
}

/// A seccomp config giving an errno to an action that cannot return one.
fn errno_ret_misused(bundle: &std::path::Path) -> bool {
    let Some(c) = read_config(bundle) else {
        return false;
    };
    let returns_errno = |a: &Value| a == "SCMP_ACT_ERRNO" || a == "SCMP_ACT_TRACE";
    let sc = &c["linux"]["seccomp"];
    (sc.get("defaultErrnoRet").is_some() && !returns_errno(&sc["defaultAction"]))
        || sc["syscalls"].as_array().is_some_and(|rules| {
            rules
                .iter()
                .any(|r| r.get("errnoRet").is_some() && !returns_errno(&r["action"]))
        })
}

/// A linux.devices path where the rootfs already holds a regular file.
fn device_over_file(bundle: &std::path::Path) -> bool {
    let Some(c) = read_config(bundle) else {
        return false;
    };
    let root = bundle.join(c["root"]["path"].as_str().unwrap_or("rootfs"));
    c["linux"]["devices"].as_array().is_some_and(|devices| {
        devices.iter().any(|d| {
            d["path"]
                .as_str()
                .is_some_and(|p| root.join(p.trim_start_matches('/')).is_file())
        })
    })
}
