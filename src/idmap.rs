//! User-namespace ID maps with the kernel's `uid_map` semantics.
//!
//! An [`IdMap`] is a list of extents `inside outside count`, exactly as in
//! `/proc/PID/uid_map` (see user_namespaces(7)): `count >= 1`, extents do not
//! overlap on either side, no extent runs past 4294967294 (4294967295 is never
//! a valid ID), and there are at most 340 extents. Lookups in both directions
//! are binary searches, `O(log n)`.
//!
//! Uid and gid maps are distinct types ([`UidMap`], [`GidMap`]) so a gid can
//! never be translated through a uid map by mistake.
//!
//! This module also parses the SPEC forms of the command line
//! (`a:b:c,...`, `@FILE`, `rootless`, `subuid`, `host`) and the
//! `/etc/subuid` / `/etc/subgid` files.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The kernel's limit on extents in one map (since Linux 4.15).
pub const MAX_EXTENTS: usize = 340;

/// The ID that is never valid: `(uid_t) -1`.
pub const INVALID_ID: u32 = u32::MAX;

/// The overflow ID (`/proc/sys/kernel/overflowuid`) used by `--unmapped overflow`.
pub const OVERFLOW_ID: u32 = 65534;

/// Marker for the kind of ID a map translates.
pub trait IdKind: Copy + Clone + fmt::Debug + PartialEq + Eq + Send + Sync + 'static {
    /// "uid" or "gid", for messages.
    const NAME: &'static str;
    /// The subordinate-ID file, "/etc/subuid" or "/etc/subgid".
    const SUB_FILE: &'static str;
}

/// Marker type for user IDs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UidKind;
/// Marker type for group IDs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GidKind;

impl IdKind for UidKind {
    const NAME: &'static str = "uid";
    const SUB_FILE: &'static str = "/etc/subuid";
}
impl IdKind for GidKind {
    const NAME: &'static str = "gid";
    const SUB_FILE: &'static str = "/etc/subgid";
}

/// One line of a map: `count` IDs starting at `inside` correspond to `count`
/// IDs starting at `outside`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Extent {
    /// First ID inside the context (the namespace).
    pub inside: u32,
    /// First ID outside (on the host).
    pub outside: u32,
    /// Number of IDs, at least 1.
    pub count: u32,
}

impl fmt::Display for Extent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.inside, self.outside, self.count)
    }
}

/// A validated ID map of kind `K` (uid or gid).
#[derive(Clone, PartialEq, Eq)]
pub struct IdMap<K: IdKind> {
    /// Extents in the order given.
    extents: Vec<Extent>,
    /// Indices into `extents`, sorted by `inside`.
    by_inside: Vec<u16>,
    /// Indices into `extents`, sorted by `outside`.
    by_outside: Vec<u16>,
    _kind: PhantomData<K>,
}

/// A map of user IDs.
pub type UidMap = IdMap<UidKind>;
/// A map of group IDs.
pub type GidMap = IdMap<GidKind>;

impl<K: IdKind> fmt::Debug for IdMap<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Map({})", K::NAME, self)
    }
}

impl<K: IdKind> fmt::Display for IdMap<K> {
    /// The SPEC form `inside:outside:count[,...]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.extents.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl<K: IdKind> IdMap<K> {
    /// Build a map from extents, validating them as the kernel does.
    ///
    /// # Errors
    /// An empty map, more than 340 extents, a zero count, an extent that runs
    /// past 4294967294 on either side, or two extents overlapping on either
    /// side. The message names the extents by their position (from 1).
    pub fn new(extents: Vec<Extent>) -> Result<Self> {
        if extents.is_empty() {
            return Err(Error::map(format!("{} map is empty", K::NAME)));
        }
        if extents.len() > MAX_EXTENTS {
            return Err(Error::map(format!(
                "{} map has {} extents; the kernel allows at most {MAX_EXTENTS}",
                K::NAME,
                extents.len()
            )));
        }
        for (i, e) in extents.iter().enumerate() {
            if e.count == 0 {
                return Err(Error::map(format!(
                    "extent {} ({e}) of the {} map has count 0",
                    i + 1,
                    K::NAME
                )));
            }
            for (side, start) in [("inside", e.inside), ("outside", e.outside)] {
                if u64::from(start) + u64::from(e.count) > u64::from(INVALID_ID) {
                    return Err(Error::map(format!(
                        "extent {} ({e}) of the {} map runs past {} on the {side}",
                        i + 1,
                        K::NAME,
                        INVALID_ID - 1
                    )));
                }
            }
        }
        let mut by_inside: Vec<u16> = (0..extents.len() as u16).collect();
        let mut by_outside = by_inside.clone();
        by_inside.sort_by_key(|&i| extents[i as usize].inside);
        by_outside.sort_by_key(|&i| extents[i as usize].outside);
        for (side, order, key) in [
            (
                "inside",
                &by_inside,
                (|e: &Extent| e.inside) as fn(&Extent) -> u32,
            ),
            ("outside", &by_outside, |e: &Extent| e.outside),
        ] {
            for w in order.windows(2) {
                let (a, b) = (w[0] as usize, w[1] as usize);
                let (ea, eb) = (&extents[a], &extents[b]);
                if u64::from(key(ea)) + u64::from(ea.count) > u64::from(key(eb)) {
                    let (first, second) = if a < b { (a, b) } else { (b, a) };
                    return Err(Error::map(format!(
                        "extent {} overlaps extent {} on the {side}: {} and {}",
                        second + 1,
                        first + 1,
                        extents[second],
                        extents[first]
                    )));
                }
            }
        }
        Ok(IdMap {
            extents,
            by_inside,
            by_outside,
            _kind: PhantomData,
        })
    }

    /// The identity map over every valid ID (`0:0:4294967295`).
    pub fn identity() -> Self {
        Self::new(vec![Extent {
            inside: 0,
            outside: 0,
            count: INVALID_ID,
        }])
        .expect("the identity map is valid")
    }

    /// The extents in the order given.
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// True when this map is the identity on every valid ID.
    pub fn is_identity(&self) -> bool {
        self.extents.len() == 1
            && self.extents[0].inside == 0
            && self.extents[0].outside == 0
            && self.extents[0].count == INVALID_ID
    }

    /// The inverse map (inside and outside swapped).
    pub fn inverse(&self) -> Self {
        let ext = self
            .extents
            .iter()
            .map(|e| Extent {
                inside: e.outside,
                outside: e.inside,
                count: e.count,
            })
            .collect();
        Self::new(ext).expect("the inverse of a valid map is valid")
    }

    /// A user namespace to read files in, where an owner outside this map
    /// cannot pass for one inside it: the kernel shows such an owner as
    /// `overflow` (`/proc/sys/kernel/overflowuid`), so `overflow` must not be
    /// a mapped ID inside.
    ///
    /// Returns `(ns, view)`: `ns` (its IDs inside → host IDs) for
    /// `newuidmap`, and `view` (context IDs → IDs as seen inside `ns`), so
    /// that `view.to_context(seen)` is the context ID of a file `stat` shows
    /// as `seen`. Each extent's IDs inside are its host IDs, so `view` is
    /// `self`; but where an extent holds `overflow` on the host side, its
    /// IDs from `overflow` on move above every host ID of the map.
    ///
    /// # Errors
    /// No room above the map's host IDs, or one extent too many.
    pub fn walk_layout(&self, overflow: u32) -> Result<(Self, Self)> {
        let top = self
            .extents
            .iter()
            .map(|e| e.outside + e.count)
            .max()
            .unwrap_or(0);
        let (mut ns, mut view) = (Vec::new(), Vec::new());
        for e in &self.extents {
            let mut put = |at: u32, outside: u32, inside: u32, count: u32| {
                ns.push(Extent {
                    inside: at,
                    outside,
                    count,
                });
                view.push(Extent {
                    inside,
                    outside: at,
                    count,
                });
            };
            let held = overflow.wrapping_sub(e.outside);
            if held >= e.count {
                put(e.outside, e.outside, e.inside, e.count);
                continue;
            }
            if held > 0 {
                put(e.outside, e.outside, e.inside, held);
            }
            put(top, overflow, e.inside + held, e.count - held);
        }
        Ok((Self::new(ns)?, Self::new(view)?))
    }

    /// Translate a context (inside) ID to the host (outside) ID.
    pub fn to_host(&self, id: u32) -> Option<u32> {
        lookup(&self.extents, &self.by_inside, id, |e| {
            (e.inside, e.outside)
        })
    }

    /// Translate a host (outside) ID to the context (inside) ID.
    pub fn to_context(&self, id: u32) -> Option<u32> {
        lookup(&self.extents, &self.by_outside, id, |e| {
            (e.outside, e.inside)
        })
    }

    /// Parse the SPEC form `INSIDE:OUTSIDE:COUNT[,INSIDE:OUTSIDE:COUNT...]`.
    ///
    /// # Errors
    /// A field that is not a decimal number, a wrong number of fields, or an
    /// invalid map (see [`IdMap::new`]).
    pub fn parse_list(spec: &str) -> Result<Self> {
        let mut extents = Vec::new();
        for (i, part) in spec.split(',').enumerate() {
            extents.push(parse_extent(part.trim(), ':').map_err(|m| {
                Error::map(format!("extent {} of {} map '{spec}': {m}", i + 1, K::NAME))
            })?);
        }
        Self::new(extents)
    }

    /// Parse the contents of a `/proc/PID/uid_map`-style file: lines of
    /// `inside outside count` separated by blanks; `#` comments and empty
    /// lines are ignored.
    ///
    /// # Errors
    /// As [`IdMap::parse_list`], naming the line.
    pub fn parse_proc(text: &str, origin: &str) -> Result<Self> {
        let mut extents = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            extents.push(
                parse_extent(&fields.join(":"), ':')
                    .map_err(|m| Error::map(format!("{origin}, line {}: {m}", n + 1)))?,
            );
        }
        Self::new(extents).map_err(|e| Error::map(format!("{origin}: {}", e.kind())))
    }
}

fn lookup(
    extents: &[Extent],
    order: &[u16],
    id: u32,
    sides: impl Fn(&Extent) -> (u32, u32),
) -> Option<u32> {
    if id == INVALID_ID {
        return None;
    }
    // The last extent whose start is <= id.
    let pos = order.partition_point(|&i| sides(&extents[i as usize]).0 <= id);
    if pos == 0 {
        return None;
    }
    let e = &extents[order[pos - 1] as usize];
    let (from, to) = sides(e);
    let off = id - from;
    (off < e.count).then(|| to + off)
}

fn parse_extent(s: &str, sep: char) -> std::result::Result<Extent, String> {
    let fields: Vec<&str> = s.split(sep).collect();
    if fields.len() != 3 {
        return Err(format!(
            "'{s}' is not INSIDE{sep}OUTSIDE{sep}COUNT (three numbers)"
        ));
    }
    let num = |what: &str, f: &str| -> std::result::Result<u32, String> {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{what} '{f}' in '{s}' is not a decimal number"));
        }
        f.parse::<u32>()
            .map_err(|_| format!("{what} '{f}' in '{s}' is larger than 4294967295"))
    };
    Ok(Extent {
        inside: num("inside", fields[0])?,
        outside: num("outside", fields[1])?,
        count: num("count", fields[2])?,
    })
}

/// One subordinate range from `/etc/subuid` or `/etc/subgid`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SubRange {
    /// First subordinate ID.
    pub start: u32,
    /// Number of IDs.
    pub count: u32,
}

/// Parse `/etc/subuid`-style text and return the ranges, in file order, that
/// belong to the user with login `name` or numeric ID `id`.
///
/// Lines are `owner:start:count`; `owner` is a login name or a decimal uid.
///
/// # Errors
/// A malformed line that belongs to the user (other users' lines are not
/// judged), naming the origin and line number.
pub fn parse_subid(text: &str, origin: &str, name: Option<&str>, id: u32) -> Result<Vec<SubRange>> {
    let mut out = Vec::new();
    let id_str = id.to_string();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((owner, rest)) = line.split_once(':') else {
            continue;
        };
        if owner != id_str && Some(owner) != name {
            continue;
        }
        let e = parse_extent(&format!("0:{rest}"), ':')
            .map_err(|m| Error::map(format!("{origin}, line {}: {m}", n + 1)))?;
        if e.count == 0 || u64::from(e.outside) + u64::from(e.count) > u64::from(INVALID_ID) {
            return Err(Error::map(format!(
                "{origin}, line {}: range {}:{} is empty or runs past {}",
                n + 1,
                e.outside,
                e.count,
                INVALID_ID - 1
            )));
        }
        out.push(SubRange {
            start: e.outside,
            count: e.count,
        });
    }
    Ok(out)
}

/// Who is asking, for the `rootless` and `subuid` SPEC forms.
#[derive(Clone, Debug)]
pub struct Invoker {
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Login name, if the passwd database has one.
    pub name: Option<String>,
    /// The subuid file (normally `/etc/subuid`).
    pub subuid_file: PathBuf,
    /// The subgid file (normally `/etc/subgid`).
    pub subgid_file: PathBuf,
}

impl Invoker {
    /// The calling process's user, with the system's subordinate-ID files.
    pub fn current() -> Invoker {
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        Invoker {
            uid,
            gid,
            name: crate::names::NameDb::host_passwd()
                .name_of(uid)
                .map(str::to_owned),
            subuid_file: PathBuf::from(UidKind::SUB_FILE),
            subgid_file: PathBuf::from(GidKind::SUB_FILE),
        }
    }

    /// The subordinate-ID file of kind `K`.
    fn sub_file<K: IdKind>(&self) -> &Path {
        if K::NAME == "uid" {
            &self.subuid_file
        } else {
            &self.subgid_file
        }
    }

    /// The user's subordinate ranges of kind `K`, in file order (possibly
    /// none: the file is optional).
    fn ranges_if_any<K: IdKind>(&self) -> Result<Vec<SubRange>> {
        let file = self.sub_file::<K>();
        if !file.exists() {
            return Ok(Vec::new());
        }
        let text = read_small(file)?;
        // Both files are keyed by the user (its login name or uid).
        parse_subid(
            &text,
            &file.display().to_string(),
            self.name.as_deref(),
            self.uid,
        )
    }

    fn ranges<K: IdKind>(&self) -> Result<Vec<SubRange>> {
        let file = self.sub_file::<K>();
        let text = read_small(file)?;
        let ranges = parse_subid(
            &text,
            &file.display().to_string(),
            self.name.as_deref(),
            self.uid,
        )?;
        if ranges.is_empty() {
            return Err(Error::map(format!(
                "{} has no range for user {} (uid {}); add one, e.g. with `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}`",
                file.display(),
                self.name.as_deref().unwrap_or("?"),
                self.uid,
                self.name.as_deref().unwrap_or("USER"),
            )));
        }
        Ok(ranges)
    }

    /// The user's own ID of kind `K`.
    fn own<K: IdKind>(&self) -> u32 {
        if K::NAME == "uid" { self.uid } else { self.gid }
    }
}

fn read_small(path: &Path) -> Result<String> {
    use std::io::Read;
    let f =
        std::fs::File::open(path).map_err(|e| Error::io("cannot read the map file", path, e))?;
    let mut s = String::new();
    f.take(16 << 20)
        .read_to_string(&mut s)
        .map_err(|e| Error::io("cannot read the map file", path, e))?;
    Ok(s)
}

/// Build a map of kind `K` from a SPEC.
///
/// Forms: `INSIDE:OUTSIDE:COUNT[,...]`; `@FILE` (lines as in
/// `/proc/PID/uid_map`); `rootless` (0 → the invoker's own ID, then 1, 2, ...
/// → the subordinate ranges in file order, as rootless podman builds it);
/// `subuid` (0, 1, ... → the subordinate ranges, as mmdebstrap's unshare mode
/// builds it); `host` (identity).
///
/// # Errors
/// A malformed SPEC or file, a missing subordinate range, an invalid map.
pub fn parse_spec<K: IdKind>(spec: &str, who: &Invoker) -> Result<IdMap<K>> {
    let spec = spec.trim();
    match spec {
        "host" => Ok(IdMap::identity()),
        "rootless" => layout(spec, Some(who.own::<K>()), who.ranges::<K>()?),
        "subuid" => layout(spec, None, who.ranges::<K>()?),
        _ if spec.starts_with('@') => {
            let path = Path::new(&spec[1..]);
            let text = read_small(path)?;
            IdMap::parse_proc(&text, &path.display().to_string())
        }
        _ if spec.contains(':') => IdMap::parse_list(spec),
        _ => Err(Error::map(format!(
            "unknown map '{spec}': expected INSIDE:OUTSIDE:COUNT[,...], @FILE, rootless, subuid, host or a context name"
        ))),
    }
}

/// The map `own` (when given) then `ranges` make: 0 → `own`, then the
/// next IDs → each range in turn (`spec` names it in messages).
fn layout<K: IdKind>(spec: &str, own: Option<u32>, ranges: Vec<SubRange>) -> Result<IdMap<K>> {
    let mut extents = Vec::new();
    let mut next = 0u32;
    if let Some(own) = own {
        extents.push(Extent {
            inside: 0,
            outside: own,
            count: 1,
        });
        next = 1;
    }
    for r in ranges {
        let count = r.count.min(INVALID_ID - next);
        if count == 0 {
            break;
        }
        extents.push(Extent {
            inside: next,
            outside: r.start,
            count,
        });
        next += count;
    }
    IdMap::new(extents).map_err(|e| {
        Error::map(format!(
            "the '{spec}' {} map built from {}: {}",
            K::NAME,
            K::SUB_FILE,
            e.kind()
        ))
    })
}

/// The invoking user's own layout: how a user namespace of the user's
/// (rootless podman's, containers/storage's) shows the files the user
/// owns. Root's is the identity; another user's is `rootless` (its own ID
/// is 0, its subordinate ranges 1, 2, ...), or only its own ID as 0 when it
/// has no subordinate range.
///
/// # Errors
/// A subordinate-ID file that exists but cannot be read, or a malformed
/// line of the user's.
pub fn own_layout<K: IdKind>(who: &Invoker) -> Result<IdMap<K>> {
    if who.uid == 0 {
        return Ok(IdMap::identity());
    }
    layout("rootless", Some(who.own::<K>()), who.ranges_if_any::<K>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(i: u32, o: u32, c: u32) -> Extent {
        Extent {
            inside: i,
            outside: o,
            count: c,
        }
    }

    /// Host IDs stay what `stat` shows inside; an extent holding the
    /// overflow ID on the host side has its tail moved above the map, so
    /// the overflow ID is never mapped inside and every host ID of the map
    /// still reaches its context ID.
    #[test]
    fn walk_layout_keeps_the_overflow_id_unmapped() {
        let rootless = UidMap::parse_list("0:1001:1,1:100000:65536").unwrap();
        let (ns, view) = rootless.walk_layout(65534).unwrap();
        assert_eq!(ns.to_string(), "1001:1001:1,100000:100000:65536");
        assert_eq!(view, rootless);
        let own = UidMap::parse_list("0:65534:1,1:60000:10").unwrap();
        let (ns, view) = own.walk_layout(65534).unwrap();
        assert_eq!(ns.to_string(), "65535:65534:1,60000:60000:10");
        assert_eq!(ns.to_host(65534), None);
        let wide = UidMap::parse_list("0:60000:10000").unwrap();
        let (ns, view2) = wide.walk_layout(65534).unwrap();
        assert_eq!(ns.to_host(65534), None);
        for (m, ns, view) in [
            (&own, &own.walk_layout(65534).unwrap().0, &view),
            (&wide, &ns, &view2),
        ] {
            for host in [60000, 60005, 65533, 65534, 65535, 69999] {
                let Some(ctx) = m.to_context(host) else {
                    continue;
                };
                let seen = ns.to_context(host).unwrap();
                assert_ne!(seen, 65534);
                assert_eq!(view.to_context(seen), Some(ctx), "host {host}");
            }
        }
        assert!(
            UidMap::identity().walk_layout(65534).is_err(),
            "no room above"
        );
    }

    #[test]
    fn validation_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("0:1000:1", None),
            ("0:1000:1,1:100000:65536", None),
            ("0:0:4294967295", None),
            ("1:100000:65536,0:1000:1", None),
            (
                "0:1000:0",
                Some("extent 1 (0:1000:0) of the uid map has count 0"),
            ),
            (
                "0:1000:1,1:1000:5",
                Some("extent 2 overlaps extent 1 on the outside: 1:1000:5 and 0:1000:1"),
            ),
            (
                "0:100000:65536,1:1000:1",
                Some("extent 2 overlaps extent 1 on the inside: 1:1000:1 and 0:100000:65536"),
            ),
            (
                "0:0:4294967296",
                Some(
                    "extent 1 of uid map '0:0:4294967296': count '4294967296' in '0:0:4294967296' is larger than 4294967295",
                ),
            ),
            (
                "1:0:4294967295",
                Some("extent 1 (1:0:4294967295) of the uid map runs past 4294967294 on the inside"),
            ),
            (
                "0:4294967295:1",
                Some(
                    "extent 1 (0:4294967295:1) of the uid map runs past 4294967294 on the outside",
                ),
            ),
            (
                "0:x:1",
                Some("extent 1 of uid map '0:x:1': outside 'x' in '0:x:1' is not a decimal number"),
            ),
            (
                "0:1",
                Some(
                    "extent 1 of uid map '0:1': '0:1' is not INSIDE:OUTSIDE:COUNT (three numbers)",
                ),
            ),
            (
                "-1:0:1",
                Some(
                    "extent 1 of uid map '-1:0:1': inside '-1' in '-1:0:1' is not a decimal number",
                ),
            ),
        ];
        for (spec, want) in cases {
            let got = UidMap::parse_list(spec);
            match (got, want) {
                (Ok(_), None) => {}
                (Err(e), Some(w)) => assert_eq!(&e.to_string(), w, "spec {spec}"),
                (Ok(m), Some(w)) => panic!("{spec}: expected error {w}, got {m}"),
                (Err(e), None) => panic!("{spec}: unexpected error {e}"),
            }
        }
    }

    #[test]
    fn too_many_extents() {
        let v: Vec<Extent> = (0..341).map(|i| ext(i, i, 1)).collect();
        assert!(
            UidMap::new(v)
                .unwrap_err()
                .to_string()
                .contains("at most 340")
        );
        let v: Vec<Extent> = (0..340).map(|i| ext(i * 2, i * 3, 1)).collect();
        UidMap::new(v).unwrap();
    }

    #[test]
    fn lookups_both_ways() {
        let m = UidMap::parse_list("0:1001:1,1:100000:65536").unwrap();
        let table: &[(u32, Option<u32>)] = &[
            (0, Some(1001)),
            (1, Some(100000)),
            (42, Some(100041)),
            (65536, Some(165535)),
            (65537, None),
            (u32::MAX, None),
        ];
        for &(inside, outside) in table {
            assert_eq!(m.to_host(inside), outside, "to_host({inside})");
            if let Some(o) = outside {
                assert_eq!(m.to_context(o), Some(inside), "to_context({o})");
            }
        }
        assert_eq!(m.to_context(1000), None);
        assert_eq!(m.to_context(1002), None);
        assert_eq!(m.to_context(99999), None);
        assert_eq!(m.to_context(165536), None);
        let id = UidMap::identity();
        assert_eq!(id.to_host(4294967294), Some(4294967294));
        assert_eq!(id.to_host(u32::MAX), None);
        assert!(id.is_identity());
    }

    #[test]
    fn inverse_is_identity_on_covered_range() {
        let m = GidMap::parse_list("5:10:3,100:0:5,20:200:10").unwrap();
        let inv = m.inverse();
        for id in 0..300 {
            if let Some(h) = m.to_host(id) {
                assert_eq!(inv.to_host(h), Some(id));
                assert_eq!(m.to_context(h), Some(id));
            }
        }
        assert_eq!(m.to_string(), "5:10:3,100:0:5,20:200:10");
    }

    #[test]
    fn proc_format() {
        let m = UidMap::parse_proc(
            "         0       1000          1\n         1     100000      65536\n",
            "t",
        )
        .unwrap();
        assert_eq!(m.to_host(2), Some(100001));
        let e = UidMap::parse_proc("0 1000\n", "f").unwrap_err().to_string();
        assert!(e.starts_with("f, line 1:"), "{e}");
    }

    #[test]
    fn subid_parsing() {
        let text =
            "# comment\nalice:100000:65536\n1001:300000:1000\nbob:200000:65536\nalice:500000:10\n";
        let r = parse_subid(text, "/etc/subuid", Some("alice"), 1001).unwrap();
        assert_eq!(
            r,
            vec![
                SubRange {
                    start: 100000,
                    count: 65536
                },
                SubRange {
                    start: 300000,
                    count: 1000
                },
                SubRange {
                    start: 500000,
                    count: 10
                }
            ]
        );
        let e = parse_subid("alice:x:1\n", "/etc/subuid", Some("alice"), 5).unwrap_err();
        assert!(e.to_string().contains("/etc/subuid, line 1"), "{e}");
        // Other users' bad lines are not ours to judge.
        assert!(
            parse_subid("bob:x:1\n", "s", Some("alice"), 5)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn spec_forms() {
        let dir = std::env::temp_dir().join(format!("alientar-idmap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("subuid"), "u:100000:65536\n").unwrap();
        std::fs::write(dir.join("subgid"), "1001:200000:65536\n").unwrap();
        std::fs::write(dir.join("map"), "0 5000 10\n").unwrap();
        let who = Invoker {
            uid: 1001,
            gid: 1002,
            name: Some("u".into()),
            subuid_file: dir.join("subuid"),
            subgid_file: dir.join("subgid"),
        };
        let u: UidMap = parse_spec("rootless", &who).unwrap();
        assert_eq!(u.to_string(), "0:1001:1,1:100000:65536");
        let g: GidMap = parse_spec("rootless", &who).unwrap();
        assert_eq!(g.to_string(), "0:1002:1,1:200000:65536");
        let s: UidMap = parse_spec("subuid", &who).unwrap();
        assert_eq!(s.to_string(), "0:100000:65536");
        let h: UidMap = parse_spec("host", &who).unwrap();
        assert!(h.is_identity());
        let f: UidMap = parse_spec(&format!("@{}", dir.join("map").display()), &who).unwrap();
        assert_eq!(f.to_host(3), Some(5003));
        assert!(parse_spec::<UidKind>("nonsense", &who).is_err());
        let nobody = Invoker {
            uid: 7,
            name: None,
            ..who.clone()
        };
        let e = parse_spec::<UidKind>("rootless", &nobody)
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no range"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The invoker's own layout: `rootless` with ranges, its own ID alone
    /// without (no file, or no line of its own), the identity for root.
    #[test]
    fn own_layout_with_and_without_ranges() {
        let dir = std::env::temp_dir().join(format!("alientar-own-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("subuid"), "u:100000:65536\n").unwrap();
        let who = Invoker {
            uid: 1001,
            gid: 1002,
            name: Some("u".into()),
            subuid_file: dir.join("subuid"),
            subgid_file: dir.join("absent"),
        };
        let u: UidMap = own_layout(&who).unwrap();
        assert_eq!(u.to_string(), "0:1001:1,1:100000:65536");
        let g: GidMap = own_layout(&who).unwrap();
        assert_eq!(g.to_string(), "0:1002:1");
        let other = Invoker {
            uid: 7,
            name: None,
            ..who.clone()
        };
        let u: UidMap = own_layout(&other).unwrap();
        assert_eq!(u.to_string(), "0:7:1");
        let root = Invoker {
            uid: 0,
            gid: 0,
            ..who.clone()
        };
        assert!(own_layout::<UidKind>(&root).unwrap().is_identity());
        std::fs::write(dir.join("subuid"), "u:x:1\n").unwrap();
        assert!(
            own_layout::<UidKind>(&who).is_err(),
            "a malformed line of its own"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
