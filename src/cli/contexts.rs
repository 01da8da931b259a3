//! `alientar contexts [NAME]`: the registry, or one context with its maps;
//! `--live`: the running user namespaces the user can enter.

use std::io::Write;

use alientar::Error;
use alientar::{LiveNamespace, Registry, live_namespaces, user_contexts_file};

use super::outcome::Exit;

/// Show the registry (one line a context), or the context `name`.
pub(super) fn run(name: Option<&str>, reg: &Registry) -> Result<Exit, Error> {
    let mut out = std::io::stdout().lock();
    match name {
        Some(n) => show_one(&mut out, n, reg)?,
        None => show_all(&mut out, reg)?,
    }
    Ok(Exit::Ok)
}

/// One line of the listing.
fn line(out: &mut dyn Write, args: std::fmt::Arguments) -> Result<(), Error> {
    writeln!(out, "{args}").map_err(|e| Error::io_nopath("cannot write the contexts", e))
}

/// The context `n`: its definition, then its maps as resolved for this user.
fn show_one(out: &mut dyn Write, n: &str, reg: &Registry) -> Result<(), Error> {
    let c = reg.get(n).ok_or_else(|| {
        Error::context(format!(
            "no context named '{n}' is defined (see `alientar contexts`; define it in {})",
            user_contexts_file().map_or("~/.config/alientar/contexts.toml".into(), |p| p
                .display()
                .to_string())
        ))
    })?;
    line(out, format_args!("name:    {}", c.name))?;
    line(out, format_args!("defined: {}", c.origin))?;
    match &c.userns {
        Some(p) => line(out, format_args!("userns:  {}", p.display()))?,
        None => {
            line(out, format_args!("uidmap:  {}", c.uidmap))?;
            line(out, format_args!("gidmap:  {}", c.gidmap))?;
        }
    }
    if let Some(p) = &c.names {
        line(out, format_args!("names:   {}", p.display()))?;
    }
    let m = match reg.maps(n) {
        Ok(m) => m,
        Err(e) => return line(out, format_args!("unresolved: {e}")),
    };
    line(
        out,
        format_args!("resolved for this user (inside outside count):"),
    )?;
    for e in m.uid.extents() {
        let (i, o, n) = (e.inside, e.outside, e.count);
        line(out, format_args!("  uid {i:>10} {o:>10} {n:>10}"))?;
    }
    for e in m.gid.extents() {
        let (i, o, n) = (e.inside, e.outside, e.count);
        line(out, format_args!("  gid {i:>10} {o:>10} {n:>10}"))?;
    }
    Ok(())
}

/// Every context: name, where it is defined, its maps for this user.
fn show_all(out: &mut dyn Write, reg: &Registry) -> Result<(), Error> {
    for c in reg.iter() {
        let resolved = match reg.maps(&c.name) {
            Ok(m) => format!("uid {} gid {}", m.uid, m.gid),
            Err(_) => "(not resolvable for this user)".into(),
        };
        let origin = if c.origin == "built-in" {
            "built-in"
        } else {
            "file"
        };
        line(out, format_args!("{:<16} {origin:<10} {resolved}", c.name))?;
    }
    Ok(())
}

/// The running user namespaces the user can enter: a table, or JSON lines.
pub(super) fn run_live(json: bool, reg: &Registry) -> Result<Exit, Error> {
    let mut out = std::io::stdout().lock();
    let all = live_namespaces(reg);
    if json {
        for n in &all {
            line(&mut out, format_args!("{}", live_json(n)))?;
        }
        return Ok(Exit::Ok);
    }
    line(
        &mut out,
        format_args!(
            "{:<8} {:<6} {:<28} {:<28} {:<10} COMMAND",
            "PID", "OWNER", "UIDMAP", "GIDMAP", "CONTEXT"
        ),
    )?;
    for n in &all {
        let (u, g) = n.maps.as_ref().map_or(("?".into(), "?".into()), |m| {
            (m.uid.to_string(), m.gid.to_string())
        });
        let ctx = if n.contexts.is_empty() {
            "-".to_string()
        } else {
            n.contexts.join(",")
        };
        line(
            &mut out,
            format_args!(
                "{:<8} {:<6} {u:<28} {g:<28} {ctx:<10} {}",
                n.pid, n.owner, n.command
            ),
        )?;
    }
    Ok(Exit::Ok)
}

/// One namespace as a JSON object.
fn live_json(n: &LiveNamespace) -> serde_json::Value {
    serde_json::json!({
        "pid": n.pid,
        "owner": n.owner,
        "uidmap": n.maps.as_ref().map(|m| m.uid.to_string()),
        "gidmap": n.maps.as_ref().map(|m| m.gid.to_string()),
        "command": n.command,
        "processes": n.processes,
        "contexts": n.contexts,
    })
}
