//! `alientar contexts [NAME]`: the registry, or one context with its maps.

use std::io::Write;

use alientar::Error;
use alientar::{Registry, user_contexts_file};

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
    line(out, format_args!("uidmap:  {}", c.uidmap))?;
    line(out, format_args!("gidmap:  {}", c.gidmap))?;
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
