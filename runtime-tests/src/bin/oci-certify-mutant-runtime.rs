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
        ("hook-fail-no-destroy", "create") => {
            let code = pass_through(&args);
            if code != ExitCode::SUCCESS {
                // Leave a container behind, as a runtime that neither stops nor destroys
                // after a failing hook would: create it again without the failing hooks.
                if let Some(bundle) = bundle_of(&args) {
                    if has_failing_hook(&bundle) {
                        edit_config(&bundle, strip_failing_hooks);
                        let _ = real().args(&args).status();
                    }
                }
            }
            code
        }
        (m, "create") if ERROR_MUTATIONS.contains(&m) => {
            if let Some(bundle) = bundle_of(&args) {
                edit_config(&bundle, |c| mutate_errors(m, c));
            }
            pass_through(&args)
        }
        (m, "create") if m.starts_with("nsdrop-") || m == "ns-user-map-shift" => {
            if let Some(bundle) = bundle_of(&args) {
                let kind = m.strip_prefix("nsdrop-").unwrap_or("user");
                if bundle.ends_with(format!("ns-{kind}")) {
                    edit_config(&bundle, |c| {
                        if m == "ns-user-map-shift" {
                            c["linux"]["uidMappings"][0]["hostID"] = json!(300_000);
                            c["linux"]["gidMappings"][0]["hostID"] = json!(300_000);
                        } else if let Some(ns) = c
                            .pointer_mut("/linux/namespaces")
                            .and_then(Value::as_array_mut)
                        {
                            ns.retain(|n| n["type"] != kind);
                        }
                    });
                }
            }
            pass_through(&args)
        }
        (m, "create") if m.starts_with("mount-") => {
            if let Some(bundle) = bundle_of(&args) {
                edit_config(&bundle, |c| mutate_mounts(m, c));
            }
            pass_through(&args)
        }
        (m, "create") if HOOK_MUTATIONS.contains(&m) => {
            if let Some(bundle) = bundle_of(&args) {
                edit_config(&bundle, |c| mutate_hooks(m, c));
            }
            pass_through(&args)
        }
        ("accept-missing-id", op) if !op.is_empty() && missing_id(&args, op) => ExitCode::SUCCESS,
        ("bundle-default", "create") if bundle_of(&args).is_none() => {
            // Picks a bundle by itself: the session's bundle named like the container.
            let mut with = args.clone();
            if let Some(bundle) = session_bundle(&args, &id) {
                let at = with.iter().position(|a| a == "create").map_or(0, |i| i + 1);
                with.insert(at, bundle);
                with.insert(at, "--bundle".into());
            }
            pass_through(&with)
        }
        ("annotations-reject", "create")
            if bundle_of(&args)
                .is_some_and(|b| config_mentions(&b, "org.oci-certify.unknown-key")) =>
        {
            eprintln!("mutant: unknown annotation org.oci-certify.unknown-key");
            ExitCode::from(1)
        }
        ("state-no-annotations", "state") => {
            let out = match real().args(&args).output() {
                Ok(o) => o,
                Err(_) => return ExitCode::from(1),
            };
            match serde_json::from_slice::<Value>(&out.stdout) {
                Ok(mut v) => {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("annotations");
                    }
                    print!("{v}");
                }
                Err(_) => print!("{}", String::from_utf8_lossy(&out.stdout)),
            }
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            ExitCode::from(out.status.code().unwrap_or(1).clamp(0, 255) as u8)
        }
        ("config-at-start", "start") => {
            // Re-creates the container from the (edited) config.json before starting it, as
            // a runtime that reads the config at start would.
            let globals: Vec<String> = args.iter().take_while(|a| *a != "start").cloned().collect();
            if let Some(bundle) = session_bundle(&args, &id)
                .filter(|b| config_mentions(std::path::Path::new(b), "OCI_CERTIFY_EDIT=after"))
            {
                let _ = real()
                    .args(&globals)
                    .args(["delete", "--force", &id])
                    .status();
                let _ = real()
                    .args(&globals)
                    .args(["create", "--bundle", &bundle, &id])
                    .status();
            }
            pass_through(&args)
        }
        ("failed-create-leftover", "create") => {
            let code = pass_through(&args);
            if code != ExitCode::SUCCESS {
                // A failed create that leaves the runtime's state of the container behind.
                if let Some(root) = args
                    .iter()
                    .position(|a| a == "--root")
                    .and_then(|i| args.get(i + 1))
                {
                    let _ = std::fs::create_dir_all(PathBuf::from(root).join(&id));
                }
            }
            code
        }
        ("no-terminal", "create") if args.iter().any(|a| a == "--console-socket") => {
            // Never allocates the terminal: no console fd, the process gets plain stdio.
            if let Some(bundle) = bundle_of(&args) {
                edit_config(&bundle, |c| c["process"]["terminal"] = json!(false));
            }
            let mut without = args.clone();
            if let Some(i) = without.iter().position(|a| a == "--console-socket") {
                without.drain(i..(i + 2).min(without.len()));
            }
            pass_through(&without)
        }
        ("propagation-private-unbindable", "create") => {
            // Applies another propagation than the one asked for.
            if let Some(bundle) = bundle_of(&args) {
                edit_config(&bundle, |c| {
                    if c.pointer("/linux/rootfsPropagation") == Some(&json!("private")) {
                        c["linux"]["rootfsPropagation"] = json!("unbindable");
                    }
                });
            }
            pass_through(&args)
        }
        (m, "create") if GROUP_MUTATIONS.contains(&m) => {
            if let Some(bundle) = bundle_of(&args) {
                edit_config(&bundle, |c| mutate_group_config(m, &id, c));
            }
            pass_through(&args)
        }
        ("pids-zero-honoured", "create") => {
            let code = pass_through(&args);
            if let Some(c) = bundle_of(&args).and_then(|b| read_config(&b)) {
                if c.pointer("/linux/resources/pids/limit") == Some(&json!(0)) {
                    write_pids_zero(c["linux"]["cgroupsPath"].as_str().unwrap_or(""));
                }
            }
            code
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
        ("features-claims-bogus", "features") => {
            // Claims a mount option nothing implements.
            let out = match real().args(&args).output() {
                Ok(o) => o,
                Err(_) => return ExitCode::from(1),
            };
            match serde_json::from_slice::<Value>(&out.stdout) {
                Ok(mut v) => {
                    if let Some(a) = v.get_mut("mountOptions").and_then(Value::as_array_mut) {
                        a.push(json!("oci-certify-bogus"));
                    }
                    print!("{v}");
                }
                Err(_) => print!("{}", String::from_utf8_lossy(&out.stdout)),
            }
            ExitCode::from(out.status.code().unwrap_or(1).clamp(0, 255) as u8)
        }
        ("refuse-version-min", "create")
            if bundle_of(&args)
                .is_some_and(|b| config_mentions(&b, "\"ociVersion\": \"1.0.0\"")) =>
        {
            eprintln!("mutant: ociVersion 1.0.0 is not supported");
            ExitCode::from(1)
        }
        ("refuse-claimed-caps", "create")
            if bundle_of(&args).is_some_and(|b| b.ends_with("claims-capabilities")) =>
        {
            eprintln!("mutant: unknown capability");
            ExitCode::from(1)
        }
        ("refuse-cgroup-ns", "create")
            if bundle_of(&args).is_some_and(|b| b.ends_with("ns-cgroup")) =>
        {
            eprintln!("mutant: cgroup namespaces are not supported");
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
        ("start-twice-ok", "start") if !missing_id(&args, "start") && has_process(&args, &id) => {
            let _ = pass_through(&args);
            ExitCode::SUCCESS
        }
        ("delete-running-ok", "delete")
            if !args.iter().any(|a| a == "--force" || a == "-f")
                && !missing_id(&args, "delete") =>
        {
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

/// Whether the operation `op` was given no container id (nothing but flags follow it).
fn missing_id(args: &[String], op: &str) -> bool {
    let after: Vec<&String> = args.iter().skip_while(|a| *a != op).skip(1).collect();
    match op {
        "create" => {
            // create --bundle B [--pid-file F] [--console-socket S]: every word is a flag or
            // a flag's value.
            after.len() % 2 == 0 && after.iter().step_by(2).all(|a| a.starts_with('-'))
        }
        "start" | "state" | "kill" | "delete" => after.iter().all(|a| a.starts_with('-')),
        _ => false,
    }
}

/// The session's bundle of container `id` (`<run id>-<name>`): `<session>/bundles/<name>`,
/// the session being the parent of the `--root` state directory.
fn session_bundle(args: &[String], id: &str) -> Option<String> {
    let root = args
        .iter()
        .position(|a| a == "--root")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)?;
    let session = root.parent()?;
    let run_id = session.file_name()?.to_str()?;
    let name = id.strip_prefix(run_id)?.strip_prefix('-')?;
    let bundle = session.join("bundles").join(name);
    bundle
        .join("config.json")
        .exists()
        .then(|| bundle.display().to_string())
}

/// Whether the session bundle of container `id` has a `process` (the start mutations leave
/// containers without one alone).
fn has_process(args: &[String], id: &str) -> bool {
    session_bundle(args, id)
        .is_none_or(|b| config_mentions(std::path::Path::new(&b), "\"process\""))
}

fn config_mentions(bundle: &std::path::Path, needle: &str) -> bool {
    std::fs::read_to_string(bundle.join("config.json")).is_ok_and(|t| t.contains(needle))
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
    // The process group's container: `probe report --path /masked-file ...`.
    if c.pointer("/process/args/1") != Some(&json!("report"))
        || c.pointer("/process/args/3") != Some(&json!("/masked-file"))
    {
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

const ERROR_MUTATIONS: &[&str] = &[
    "ignore-unknown-sysctl",
    "rlimit-type-ignored",
    "ns-dedupe",
    "ns-path-ignored",
    "no-process-ok",
];

/// Error-path mutations: the runtime quietly "repairs" a config it must refuse.
fn mutate_errors(m: &str, c: &mut Value) {
    match m {
        "ignore-unknown-sysctl" => {
            if let Some(s) = c
                .pointer_mut("/linux/sysctl")
                .and_then(Value::as_object_mut)
            {
                s.retain(|k, _| !k.contains("oci_certify"));
            }
        }
        "rlimit-type-ignored" => {
            if let Some(r) = c
                .pointer_mut("/process/rlimits")
                .and_then(Value::as_array_mut)
            {
                r.retain(|l| l["type"] != "RLIMIT_OCI_CERTIFY");
            }
        }
        "ns-dedupe" => {
            if let Some(ns) = c
                .pointer_mut("/linux/namespaces")
                .and_then(Value::as_array_mut)
            {
                let mut seen = Vec::new();
                ns.retain(|n| {
                    let t = n["type"].clone();
                    let new = !seen.contains(&t);
                    seen.push(t);
                    new
                });
            }
        }
        "ns-path-ignored" => {
            for n in c
                .pointer_mut("/linux/namespaces")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(o) = n.as_object_mut() {
                    o.remove("path");
                }
            }
        }
        "no-process-ok" if c.get("process").is_none() => {
            c["process"] = json!({
                "args": ["/oci-certify-probe", "exit", "0"],
                "cwd": "/",
                "user": {"uid": 0, "gid": 0}
            });
        }
        _ => {}
    }
}

const HOOK_MUTATIONS: &[&str] = &[
    "hook-drop-prestart",
    "hook-drop-startContainer",
    "hook-drop-poststop",
    "hook-drop-poststart",
    "hook-swap-createRuntime",
    "hook-stdin-poststart",
    "hook-ns-createContainer",
    "hook-late-prestart",
    "hook-fail-ignored",
    "hook-pid-lies",
    "hook-startContainer-at-create",
];

/// The hooks group's container with every hook kind runs the probe as `hook program LOG`.
fn is_all_hooks(c: &Value) -> bool {
    c.pointer("/process/args/1") == Some(&json!("hook"))
        && c.pointer("/process/args/2") == Some(&json!("program"))
}

fn has_failing_hook(bundle: &std::path::Path) -> bool {
    std::fs::read_to_string(bundle.join("config.json")).is_ok_and(|t| t.contains("\"hook-fail\""))
}

fn strip_failing_hooks(c: &mut Value) {
    if let Some(hooks) = c.get_mut("hooks").and_then(Value::as_object_mut) {
        for list in hooks.values_mut() {
            if let Some(a) = list.as_array_mut() {
                a.retain(|h| h.pointer("/args/1") != Some(&json!("hook-fail")));
            }
        }
    }
}

/// Hook mutations: each changes what one hook requirement observes.
fn mutate_hooks(m: &str, c: &mut Value) {
    if m == "hook-fail-ignored" {
        // A runtime that ignores a hook's failure behaves as if the hook succeeded.
        if let Some(hooks) = c.get_mut("hooks").and_then(Value::as_object_mut) {
            for list in hooks.values_mut() {
                for h in list.as_array_mut().into_iter().flatten() {
                    if h.pointer("/args/1") == Some(&json!("hook-fail")) {
                        h["args"][1] = json!("hook");
                    }
                }
            }
        }
        return;
    }
    if !is_all_hooks(c) {
        return;
    }
    let Some(hooks) = c.get_mut("hooks").and_then(Value::as_object_mut) else {
        return;
    };
    match m {
        "hook-drop-prestart" => {
            hooks.remove("prestart");
        }
        "hook-drop-startContainer" => {
            hooks.remove("startContainer");
        }
        "hook-drop-poststop" => {
            hooks.remove("poststop");
        }
        "hook-drop-poststart" => {
            hooks.remove("poststart");
        }
        // The two createRuntime hooks record each other's name: listed order looks broken.
        "hook-swap-createRuntime" => {
            if let Some(a) = hooks.get_mut("createRuntime").and_then(Value::as_array_mut) {
                if a.len() == 2 {
                    let first = a[0]["args"][2].clone();
                    a[0]["args"][2] = a[1]["args"][2].clone();
                    a[1]["args"][2] = first;
                }
            }
        }
        // The poststart hook runs with stdin from /dev/null instead of the state.
        "hook-stdin-poststart" => {
            if let Some(h) = hooks.get_mut("poststart").and_then(|l| l.get_mut(0)) {
                let argv: Vec<String> = h["args"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .skip(1)
                            .filter_map(|s| s.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let path = h["path"].as_str().unwrap_or_default().to_string();
                let script = format!("exec {path} {} </dev/null", argv.join(" "));
                *h = json!({"path": "/bin/sh", "args": ["sh", "-c", script]});
            }
        }
        // The prestart hook is told the container's own view of its pid (1) instead of the
        // host's.
        "hook-pid-lies" => {
            if let Some(h) = hooks.get_mut("prestart").and_then(|l| l.get_mut(0)) {
                let argv: Vec<String> = h["args"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .skip(1)
                            .filter_map(|s| s.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let path = h["path"].as_str().unwrap_or_default().to_string();
                let script = format!(
                    "sed -E 's/\"pid\": *[0-9]+/\"pid\":1/' | exec {path} {}",
                    argv.join(" ")
                );
                *h = json!({"path": "/bin/sh", "args": ["sh", "-c", script]});
            }
        }
        // The startContainer hooks run during create (as createRuntime hooks, from the host's
        // copy of the probe).
        "hook-startContainer-at-create" => {
            let host_path = hooks
                .get("createRuntime")
                .and_then(|l| l.get(0))
                .map(|h| h["path"].clone());
            if let (Some(Value::Array(moved)), Some(path)) =
                (hooks.remove("startContainer"), host_path)
            {
                if let Some(a) = hooks.get_mut("createRuntime").and_then(Value::as_array_mut) {
                    for mut h in moved {
                        h["path"] = path.clone();
                        a.push(h);
                    }
                }
            }
        }
        // The createContainer hooks run as createRuntime hooks: in the runtime's namespaces.
        "hook-ns-createContainer" => {
            if let Some(Value::Array(moved)) = hooks.remove("createContainer") {
                if let Some(a) = hooks.get_mut("createRuntime").and_then(Value::as_array_mut) {
                    a.extend(moved);
                }
            }
        }
        // The prestart hooks run at start (as poststart hooks would).
        "hook-late-prestart" => {
            if let Some(Value::Array(moved)) = hooks.remove("prestart") {
                let list = hooks.entry("poststart").or_insert_with(|| json!([]));
                if let Some(a) = list.as_array_mut() {
                    for (i, h) in moved.into_iter().enumerate() {
                        a.insert(i, h);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Mount mutations of the mounts group: `mount-drop-<case>` removes the last option of the
/// mount at `/m/<case>` (the option that case judges); the others break one tree property.
fn mutate_mounts(m: &str, c: &mut Value) {
    let Some(mounts) = c.get_mut("mounts").and_then(Value::as_array_mut) else {
        return;
    };
    let at = |mounts: &[Value], dest: &str| mounts.iter().position(|x| x["destination"] == dest);
    if let Some(case) = m.strip_prefix("mount-drop-") {
        if let Some(i) = at(mounts, &format!("/m/{case}")) {
            if let Some(opts) = mounts[i]["options"].as_array_mut() {
                opts.pop();
            }
        }
        return;
    }
    match m {
        "mount-order-swap" => {
            if let (Some(a), Some(b)) = (at(mounts, "/m/order"), at(mounts, "/m/order/inner")) {
                mounts.swap(a, b);
            }
        }
        "mount-bind-source-abs" => {
            if let Some(i) = at(mounts, "/m/bind") {
                // An absolute source elsewhere: what a runtime resolving relative sources
                // against its working directory or "/" would bind.
                mounts[i]["source"] = json!("/sys/kernel");
            }
        }
        "mount-bind-as-tmpfs" => {
            if let Some(i) = at(mounts, "/m/bind") {
                mounts[i] = json!({"destination": "/m/bind", "type": "tmpfs", "source": "tmpfs"});
            }
        }
        "mount-relative-dest-elsewhere" => {
            if let Some(i) = at(mounts, "m/relative") {
                mounts[i]["destination"] = json!("/m/elsewhere");
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

/// Writes 0 to `pids.max` of the cgroup `path` in the pids hierarchy (v1 `pids` mount, or the
/// cgroup2 mount), as a runtime that honours `pids.limit` 0 would.
fn write_pids_zero(path: &str) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    for line in mounts.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let point = left.split(' ').nth(4).unwrap_or("");
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or("");
        let options = r.nth(1).unwrap_or("");
        let pids =
            (fstype == "cgroup" && options.split(',').any(|o| o == "pids")) || fstype == "cgroup2";
        let file = std::path::Path::new(point)
            .join(path.trim_start_matches('/'))
            .join("pids.max");
        if pids && file.exists() {
            let _ = std::fs::write(file, "0");
        }
    }
}
