//! Options that several commands share (owners, compression, GNU tar's
//! renaming and totals) and their resolution into the library's options.

use std::path::Path;

use clap::{Args, ValueEnum};

use alientar::OutFormat;
use alientar::OwnerOptions;
use alientar::Transform;
use alientar::{Error, Unmapped};
use alientar::{GidKind, Invoker, UidKind, parse_spec};
use alientar::{Live, Maps, Registry};

#[derive(Args, Debug, Clone)]
pub(super) struct OwnerArgs {
    /// The context owners belong to: the label stored on create; the map used on list/extract.
    ///
    /// create: every entry's label (else the label on disk: a file's own
    /// user.alientar.context, else that of its nearest labelled directory,
    /// above the paths given too). list, diff: the map for every entry
    /// (else each entry's label). extract: the map for every entry and the
    /// label written on disk; it also says which context wins when the
    /// entries' label is not the destination's (the nearest label on disk
    /// from -C DIR up), which otherwise warns once (exit status 0).
    ///
    /// pid:PID or ns:PATH: a running user namespace, labelled with the context that has its maps.
    #[arg(long, value_name = "NAME")]
    pub(super) context: Option<String>,
    /// ID map for uids and gids: INSIDE:OUTSIDE:COUNT[,...], @FILE, rootless, subuid, host, a
    /// context name, or a running user namespace: pid:PID or ns:PATH (the command then runs in it).
    #[arg(long, value_name = "SPEC")]
    map: Option<String>,
    /// ID map for uids only.
    #[arg(long, value_name = "SPEC")]
    uid_map: Option<String>,
    /// ID map for gids only.
    #[arg(long, value_name = "SPEC")]
    gid_map: Option<String>,
    /// What an ID outside the map becomes.
    #[arg(long, value_enum, default_value = "error")]
    unmapped: UnmappedArg,
    /// Ignore user and group names; numbers only.
    #[arg(long)]
    numeric_owner: bool,
}

impl OwnerArgs {
    /// Only a context and maps (`alientar unshare`): IDs outside the map
    /// are an error, names kept.
    pub(super) fn maps_only(
        context: Option<String>,
        map: Option<String>,
        uid_map: Option<String>,
        gid_map: Option<String>,
    ) -> OwnerArgs {
        OwnerArgs {
            context,
            map,
            uid_map,
            gid_map,
            unmapped: UnmappedArg::Error,
            numeric_owner: false,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(super) enum UnmappedArg {
    /// Fail, naming the path and the ID.
    Error,
    /// Use the overflow ID 65534 (and drop setuid/setgid).
    Overflow,
    /// Keep the ID unchanged.
    Keep,
}

/// Output compression: by the archive's name unless an option says.
#[derive(Args, Debug)]
#[group(skip)]
pub(super) struct CompressArgs {
    /// Compress with zstd (the default for .tar.zst and .tzst names).
    #[arg(long, group = "compressor")]
    zstd: bool,
    /// Compress with gzip (the default for .tar.gz, .tgz and .taz names).
    #[arg(short = 'z', long, group = "compressor")]
    gzip: bool,
    /// Compress with xz (the default for .tar.xz and .txz names).
    #[arg(short = 'J', long, group = "compressor")]
    xz: bool,
    /// Compress with bzip2 (the default for .tar.bz2, .tbz, .tbz2 and .tz2 names).
    #[arg(short = 'j', long, group = "compressor")]
    bzip2: bool,
    /// Write a plain tar, whatever the name.
    #[arg(long, group = "compressor")]
    no_compress: bool,
    /// Compress as the name says: what alientar always does without one of
    /// the options above (accepted for GNU tar's -a).
    #[arg(short = 'a', long)]
    auto_compress: bool,
    /// Compression level (zstd 1-19, default 3; gzip 1-9, default 6; xz
    /// 0-9, default 6; bzip2 1-9, default 9).
    #[arg(long, value_name = "N")]
    level: Option<u32>,
}

/// GNU tar's options that create, list and extract share.
#[derive(Args, Debug)]
pub(super) struct GnuArgs {
    /// Rename members with a sed-like expression, as GNU tar does.
    ///
    /// s/REGEX/REPLACEMENT/FLAGS, any delimiter; several separated by `;`
    /// or given with several --transform, applied in order. REGEX is a
    /// POSIX basic regular expression (\( \) \{ \} \+ \? \| are
    /// operators; flag x: extended). REPLACEMENT: & the match, \1..\9
    /// groups, \U \L \u \l \E case. FLAGS: g every match, N the Nth,
    /// i ignore case, x extended; scope r/R member names, s/S symlink
    /// targets, h/H hard link targets (all by default; flags=SCOPE sets
    /// it for what follows). Names are renamed as stored on create, on the
    /// way to disk on extract, and on list with --show-transformed-names.
    #[arg(long = "transform", visible_alias = "xform", value_name = "EXPR")]
    pub(super) transform: Vec<String>,
    /// Print "Total bytes written: N (SIZE, RATE)" (create; extract: "read")
    /// on stderr at the end, as GNU tar does: bytes of the tar stream,
    /// before compression.
    #[arg(long)]
    pub(super) totals: bool,
}

/// The `--transform` expressions, parsed.
pub(super) fn transform_of(exprs: &[String]) -> Result<Option<Transform>, Error> {
    if exprs.is_empty() {
        return Ok(None);
    }
    Transform::parse_all(exprs).map(Some).map_err(Error::usage)
}

/// Resolve the ownership options against the registry.
pub(super) fn owner_options(
    a: &OwnerArgs,
    reg: &Registry,
    who: &Invoker,
) -> Result<OwnerOptions, Error> {
    let mut context = a.context.clone();
    let mut maps = None;
    let mut map_option = None;
    let mut live = live_of(a, reg)?;
    if let Some(l) = &live {
        maps = Some(l.maps.clone());
        if let Some(c) = a.context.as_deref().filter(|c| Live::is_spec(c)) {
            // The label: the registry's context with the namespace's maps.
            context = preferred(l.contexts(reg), reg);
            map_option = Some(format!("--context {c}"));
        }
    }
    if let Some(m) = a.map.as_deref().filter(|_| live.is_none()) {
        maps = Some(reg.resolve_spec(m)?);
        if context.is_none() && reg.get(m).is_some() {
            context = Some(m.to_string());
            live = reg.live(m).transpose()?;
        }
        if context.as_deref() != Some(m) {
            map_option = Some("--map".to_string());
        }
    } else if let Some(m) = a.map.as_deref().filter(|m| Live::is_spec(m)) {
        map_option = Some(format!("--map {m}"));
    }
    if a.uid_map.is_some() || a.gid_map.is_some() {
        if live.is_some() {
            return Err(Error::usage(
                "--uid-map and --gid-map cannot be combined with a running namespace: its maps are its own",
            ));
        }
        maps = Some(split_maps(a, maps, context.as_deref(), reg, who)?);
        map_option = Some(
            match (&a.uid_map, &a.gid_map) {
                (Some(_), Some(_)) => "--uid-map and --gid-map",
                (Some(_), None) => "--uid-map",
                _ => "--gid-map",
            }
            .to_string(),
        );
    }
    Ok(OwnerOptions {
        context,
        maps,
        map_option,
        unmapped: match a.unmapped {
            UnmappedArg::Error => Unmapped::Error,
            UnmappedArg::Overflow => Unmapped::Overflow,
            UnmappedArg::Keep => Unmapped::Keep,
        },
        numeric_owner: a.numeric_owner,
        live,
    })
}

/// The running namespace the options name: `--map pid:PID|ns:PATH`, else
/// `--context` in those forms, else a `--context` whose registry entry
/// has `userns` (unless `--map` gives other maps).
fn live_of(a: &OwnerArgs, reg: &Registry) -> Result<Option<Live>, Error> {
    let ctx = a.context.as_deref();
    match (a.map.as_deref(), ctx) {
        (Some(m), Some(c)) if Live::is_spec(m) && Live::is_spec(c) => Err(Error::usage(
            "give the running namespace once: --map pid:PID with --context NAME labels it NAME",
        )),
        (Some(m), _) if Live::is_spec(m) => Live::open(m).map(Some),
        (Some(_), Some(c)) if Live::is_spec(c) => Err(Error::usage(format!(
            "--context {c} names a running namespace, whose maps are its own: give --map {c} --context NAME to label it"
        ))),
        (None, Some(c)) if Live::is_spec(c) => Live::open(c).map(Some),
        (None, Some(c)) => reg.live(c).transpose(),
        _ => Ok(None),
    }
}

/// Of the contexts with a running namespace's maps, the one its entries
/// are labelled with: the first one a contexts file defines, else the
/// first built-in.
fn preferred(names: Vec<String>, reg: &Registry) -> Option<String> {
    let defined = names
        .iter()
        .find(|n| reg.get(n).is_some_and(|c| c.origin != "built-in"));
    defined.or(names.first()).cloned()
}

/// The maps with `--uid-map` and/or `--gid-map`: the other half comes from
/// `--map` (`maps`) or the context, only when missing.
fn split_maps(
    a: &OwnerArgs,
    maps: Option<Maps>,
    context: Option<&str>,
    reg: &Registry,
    who: &Invoker,
) -> Result<Maps, Error> {
    let both = a.uid_map.is_some() && a.gid_map.is_some();
    let base = match (maps, context) {
        _ if both => None,
        (Some(m), _) => Some(m),
        (None, Some(c)) => Some(reg.maps(c)?),
        (None, None) => None,
    };
    let uid = match (&a.uid_map, &base) {
        (Some(s), _) => parse_spec::<UidKind>(s, who)?,
        (None, Some(b)) => b.uid.clone(),
        (None, None) => {
            return Err(Error::usage(
                "--gid-map needs --uid-map too (or --map or --context)",
            ));
        }
    };
    let gid = match (&a.gid_map, base) {
        (Some(s), _) => parse_spec::<GidKind>(s, who)?,
        (None, Some(b)) => b.gid,
        (None, None) => {
            return Err(Error::usage(
                "--uid-map needs --gid-map too (or --map or --context)",
            ));
        }
    };
    Ok(Maps { uid, gid })
}

/// An image layer's compression: zstd unless an option says gzip or none.
pub(super) fn image_format(c: &CompressArgs) -> alientar::Result<OutFormat> {
    if c.xz || c.bzip2 {
        return Err(Error::usage(
            "an image layer is compressed with zstd (the default), gzip (-z) or not at all (--no-compress)",
        ));
    }
    out_format(Path::new("layer.tar.zst"), c)
}

/// The output format: the option given, else the name's; at `--level`.
pub(super) fn out_format(name: &Path, c: &CompressArgs) -> alientar::Result<OutFormat> {
    let format = if c.zstd {
        OutFormat::Zstd(3)
    } else if c.gzip {
        OutFormat::Gzip(6)
    } else if c.xz {
        OutFormat::Xz(6)
    } else if c.bzip2 {
        OutFormat::Bzip2(9)
    } else if c.no_compress {
        OutFormat::Plain
    } else if let Some(z) = OutFormat::unsupported_in_name(name) {
        return Err(Error::usage(format!(
            "{}: alientar does not write {z}; give -z, -J, -j, --zstd or --no-compress",
            name.display()
        )));
    } else {
        OutFormat::from_name(name)
    };
    match c.level {
        Some(l) => format.with_level(l).map_err(Error::usage),
        None => Ok(format),
    }
}
