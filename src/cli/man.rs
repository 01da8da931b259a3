//! `alientar man` and `alientar completions`: the manual pages and the
//! shell completion scripts, made from the clap definitions.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use alientar::Error;

use super::outcome::Exit;
use super::{Cli, EXIT_STATUS};

/// `alientar completions SHELL`: the script on stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<Exit, Error> {
    // Into memory first: clap_complete panics on a write error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "alientar", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io_nopath("cannot write the completion script", e))?;
    Ok(Exit::Ok)
}

/// `alientar man [COMMAND] [--dir DIR]`: the manual pages, from the clap
/// definitions. The main page adds EXIT STATUS, FILES and SEE ALSO.
pub(super) fn man(command: Option<&str>, dir: Option<&Path>) -> Result<Exit, Error> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    if let Some(dir) = dir {
        return write_pages(&cmd, dir);
    }
    let mut out = std::io::stdout().lock();
    match command {
        None => man_main(&cmd, &mut out).map_err(page_error)?,
        Some(name) => {
            let sub = cmd.find_subcommand(name).ok_or_else(|| {
                Error::usage(format!(
                    "man: no command named '{name}' (commands: {})",
                    cmd.get_subcommands()
                        .map(|c| c.get_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            clap_mangen::Man::new(sub.clone())
                .render(&mut out)
                .map_err(page_error)?;
        }
    }
    out.flush().map_err(page_error)?;
    Ok(Exit::Ok)
}

fn page_error(e: std::io::Error) -> Error {
    Error::io_nopath("cannot write the manual page", e)
}

/// `man --dir DIR`: alientar.1 and one page per command into `dir`.
fn write_pages(cmd: &clap::Command, dir: &Path) -> Result<Exit, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create the directory", dir, e))?;
    let mut main = Vec::new();
    man_main(cmd, &mut main).map_err(page_error)?;
    let path = dir.join("alientar.1");
    std::fs::write(&path, main).map_err(|e| Error::io("cannot write", &path, e))?;
    for sub in cmd.get_subcommands() {
        clap_mangen::Man::new(sub.clone())
            .generate_to(dir)
            .map_err(|e| Error::io("cannot write a manual page into", dir, e))?;
    }
    Ok(Exit::Ok)
}

fn man_main(cmd: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    let m = clap_mangen::Man::new(cmd.clone());
    m.render_title(w)?;
    m.render_name_section(w)?;
    m.render_synopsis_section(w)?;
    m.render_description_section(w)?;
    m.render_options_section(w)?;
    m.render_subcommands_section(w)?;
    // Plain text into roff: escape backslashes and leading control characters.
    let roff = |text: &str| -> String {
        let t = text.replace('\\', r"\e").replace('-', r"\-");
        if t.starts_with('.') || t.starts_with('\'') {
            format!(r"\&{t}")
        } else {
            t
        }
    };
    writeln!(w, r#".SH "EXIT STATUS""#)?;
    // "  CODE  text", continued on lines that start with no code.
    let mut codes: Vec<(&str, String)> = Vec::new();
    for l in EXIT_STATUS.lines().skip(1) {
        match (l.trim().split_once("  "), codes.last_mut()) {
            (Some((code, text)), _) if code.bytes().all(|b| b.is_ascii_digit()) => {
                codes.push((code, text.trim().to_string()));
            }
            (_, Some((_, text))) => {
                text.push(' ');
                text.push_str(l.trim());
            }
            (_, None) => codes.push(("", l.trim().to_string())),
        }
    }
    for (code, text) in codes {
        writeln!(w, ".TP\n{code}\n{}", roff(&text))?;
    }
    w.write_all(MAN_TAIL.as_bytes())?;
    m.render_version_section(w)
}

/// The main manual page's FILES and SEE ALSO sections (roff).
const MAN_TAIL: &str = r#".SH FILES
.TP
\fI$XDG_CONFIG_HOME/alientar/contexts.toml\fR (else \fI~/.config/alientar/contexts.toml\fR)
The user's named contexts: a table per name with \fBuidmap\fR, \fBgidmap\fR
(map SPECs) and optionally \fBnames\fR (a root directory whose etc/passwd and
etc/group name the context's IDs).
.TP
\fI/etc/alientar/contexts.toml\fR
The system's named contexts (the user's file wins).
.TP
\fI/etc/subuid\fR, \fI/etc/subgid\fR
Subordinate ID ranges, for the \fBrootless\fR and \fBsubuid\fR maps and the
\fBuserns\fR owner sink.
.SH "SEE ALSO"
\fBalientar\-create\fR(1), \fBalientar\-extract\fR(1), \fBalientar\-diff\fR(1) and the
other commands' pages (\fBalientar man\fR \fICOMMAND\fR),
\fBtar\fR(1), \fBbsdtar\fR(1), \fBpodman\-unshare\fR(1), \fBnewuidmap\fR(1),
\fBsubuid\fR(5), \fBuser_namespaces\fR(7); docs/guide.md and docs/format.md in
the source.
"#;
