//! On-disk ownership records that other tools read and write, each encoder
//! beside its decoder:
//!
//! - `user.containers.override_stat` — `uid:gid:%04o:type`, the form
//!   containers/storage writes and fuse-overlayfs reads; type is `file`,
//!   `dir`, `symlink`, `pipe`, `socket`, `block-M-m` or `char-M-m`;
//! - `user.rootlesscontainers` — umoci's protobuf `Resource { uint32 uid = 1;
//!   uint32 gid = 2; }`, where 0xFFFFFFFF means "unchanged";
//! - `user.containers.override_security.NAME` — the xattr `security.NAME`
//!   (a file capability, which only root may set), kept where an ordinary
//!   user may write it, as fuse-overlayfs keeps it beside `override_stat`.
//!
//! [`read_records`] reads a file of such a tree back (`create
//! --from-xattrs`, `diff --from-xattrs`); the `xattr` owner sink writes
//! one ([`stored_xattr`]).

use crate::entry::{Entry, Kind};

/// containers/storage's override xattr.
pub const OVERRIDE_XATTR: &str = "user.containers.override_stat";
/// umoci's rootless ownership xattr.
pub const ROOTLESS_XATTR: &str = "user.rootlesscontainers";
/// alientar's record, on a directory, of the owners of its symlinks that are
/// not owned by 0:0 (Linux allows no user xattrs on symlinks): lines of
/// `UID:GID NAME` with the name escaped as in mtree.
pub const SYMLINK_OWNERS_XATTR: &str = "user.alientar.symlink-owners";

/// The prefix of the names under which an override-xattr tree keeps the
/// `security.*` xattrs an ordinary user may not set.
pub const OVERRIDE_PREFIX: &str = "user.containers.override_";

/// The access ACL, whose owner, group (or mask) and other entries are the
/// file's permission bits.
const ACL_ACCESS: &str = "system.posix_acl_access";

/// The xattr `name` = `value` of a file whose permission bits on disk are
/// `mode`, as an override-xattr tree keeps it: a `security.*` xattr under
/// [`OVERRIDE_PREFIX`]; an access ACL whose permission entries say `mode`
/// (the kernel would make them so when the mode is set, and the tree's
/// true mode is in the record).
pub fn stored_xattr(name: &str, value: &[u8], mode: u32) -> (String, Vec<u8>) {
    if name.starts_with("security.") {
        return (format!("{OVERRIDE_PREFIX}{name}"), value.to_vec());
    }
    let mut v = value.to_vec();
    if name == ACL_ACCESS {
        acl_set_mode(&mut v, mode);
    }
    (name.to_string(), v)
}

/// The `security.*` xattr a name under [`OVERRIDE_PREFIX`] stands for.
fn stored_security_name(name: &str) -> Option<&str> {
    name.strip_prefix(OVERRIDE_PREFIX)
        .filter(|n| n.starts_with("security."))
}

/// Make the permission entries of an access ACL (header version 2, entries
/// `le16 tag, le16 perm, le32 id`) say `mode`, as `chmod` does: the owner
/// entry the owner bits, the mask (else the owning group's entry) the group
/// bits, the other entry the other bits. A malformed value is left alone.
pub fn acl_set_mode(v: &mut [u8], mode: u32) {
    const USER_OBJ: u16 = 0x01;
    const GROUP_OBJ: u16 = 0x04;
    const MASK: u16 = 0x10;
    const OTHER: u16 = 0x20;
    if v.len() < 4 || !(v.len() - 4).is_multiple_of(8) {
        return;
    }
    let tag = |c: &[u8]| u16::from_le_bytes([c[0], c[1]]);
    let has_mask = v[4..].chunks_exact(8).any(|c| tag(c) == MASK);
    for c in v[4..].chunks_exact_mut(8) {
        let perm = match tag(c) {
            USER_OBJ => (mode >> 6) & 7,
            MASK => (mode >> 3) & 7,
            GROUP_OBJ if !has_mask => (mode >> 3) & 7,
            OTHER => mode & 7,
            _ => continue,
        };
        c[2..4].copy_from_slice(&(perm as u16).to_le_bytes());
    }
}

/// Read the records of a file of an override-xattr tree into its entry
/// `e` (walked from disk: host owners, the mode and type on disk, every
/// xattr): owner, mode and type from `user.containers.override_stat`, else
/// the owner from `user.rootlesscontainers`; both records are taken out of
/// the xattrs, `security.*` xattrs kept under [`OVERRIDE_PREFIX`] get their
/// names back, and an access ACL's permission entries follow the recorded
/// mode. True when a record gave the owner (it is in the context view).
///
/// # Errors
/// A malformed record: what is wrong with it.
pub fn read_records(e: &mut Entry) -> Result<bool, String> {
    let ov = take_xattr(e, OVERRIDE_XATTR);
    let rl = take_xattr(e, ROOTLESS_XATTR);
    for (n, _) in e.xattrs.iter_mut() {
        if let Some(real) = stored_security_name(n) {
            *n = real.to_string();
        }
    }
    if let Some(v) = ov {
        let o = Override::decode(&v)?;
        e.uid = u64::from(o.uid);
        e.gid = u64::from(o.gid);
        e.mode = o.mode;
        match o.kind {
            Some(OverrideKind::Char(a, b)) => set_device(e, Kind::Char, a, b),
            Some(OverrideKind::Block(a, b)) => set_device(e, Kind::Block, a, b),
            Some(OverrideKind::Pipe) if e.kind == Kind::File && e.size == 0 => e.kind = Kind::Fifo,
            _ => {}
        }
        if let Some((_, acl)) = e.xattrs.iter_mut().find(|(n, _)| n == ACL_ACCESS) {
            acl_set_mode(acl, o.mode);
        }
        return Ok(true);
    }
    if let Some(v) = rl {
        let (u, g) = decode_rootless(&v)?;
        e.uid = u64::from(u.unwrap_or(0));
        e.gid = u64::from(g.unwrap_or(0));
        return Ok(true);
    }
    Ok(false)
}

/// Remove the xattr `name` from `e`; its value.
fn take_xattr(e: &mut Entry, name: &str) -> Option<Vec<u8>> {
    let i = e.xattrs.iter().position(|(n, _)| n == name)?;
    Some(e.xattrs.remove(i).1)
}

/// `e` is the device `kind` `major`:`minor` (a placeholder file stands for it).
fn set_device(e: &mut Entry, kind: Kind, major: u32, minor: u32) {
    e.kind = kind;
    e.dev_major = major;
    e.dev_minor = minor;
    e.size = 0;
}

/// Symlink owner records: (name in its directory, uid, gid).
pub type SymlinkOwners = Vec<(Vec<u8>, u32, u32)>;

/// Encode symlink owner records.
pub fn encode_symlink_owners(recs: &[(Vec<u8>, u32, u32)]) -> Vec<u8> {
    let mut out = String::new();
    for (name, u, g) in recs {
        out.push_str(&format!("{u}:{g} {}\n", crate::mtree::escape(name)));
    }
    out.into_bytes()
}

/// Decode symlink owner records (malformed lines are skipped).
pub fn decode_symlink_owners(v: &[u8]) -> SymlinkOwners {
    String::from_utf8_lossy(v)
        .lines()
        .filter_map(|l| {
            let (ids, name) = l.split_once(' ')?;
            let (u, g) = ids.split_once(':')?;
            Some((
                crate::mtree::unescape(name),
                u.parse().ok()?,
                g.parse().ok()?,
            ))
        })
        .collect()
}

/// What an override record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Override {
    /// Owner in the context view.
    pub uid: u32,
    /// Group in the context view.
    pub gid: u32,
    /// Permission bits with setuid/setgid/sticky.
    pub mode: u32,
    /// The type, when the record has one.
    pub kind: Option<OverrideKind>,
}

/// The type part of an override record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverrideKind {
    /// `file`.
    File,
    /// `dir`.
    Dir,
    /// `symlink`.
    Symlink,
    /// `pipe`.
    Pipe,
    /// `socket`.
    Socket,
    /// `block-M-m`.
    Block(u32, u32),
    /// `char-M-m`.
    Char(u32, u32),
}

impl OverrideKind {
    /// The type of an entry of `kind` (hard links are files).
    pub fn of(kind: Kind, major: u32, minor: u32) -> OverrideKind {
        match kind {
            Kind::File | Kind::HardLink => OverrideKind::File,
            Kind::Dir => OverrideKind::Dir,
            Kind::Symlink => OverrideKind::Symlink,
            Kind::Fifo => OverrideKind::Pipe,
            Kind::Char => OverrideKind::Char(major, minor),
            Kind::Block => OverrideKind::Block(major, minor),
        }
    }
}

impl Override {
    /// `uid:gid:%04o:type`.
    pub fn encode(&self) -> String {
        let ty = match self.kind.unwrap_or(OverrideKind::File) {
            OverrideKind::File => "file".to_string(),
            OverrideKind::Dir => "dir".into(),
            OverrideKind::Symlink => "symlink".into(),
            OverrideKind::Pipe => "pipe".into(),
            OverrideKind::Socket => "socket".into(),
            OverrideKind::Block(a, b) => format!("block-{a}-{b}"),
            OverrideKind::Char(a, b) => format!("char-{a}-{b}"),
        };
        format!("{}:{}:{:04o}:{ty}", self.uid, self.gid, self.mode & 0o7777)
    }

    /// Parse a record; at least `uid:gid:mode`, the type optional.
    ///
    /// # Errors
    /// A description of what is malformed.
    pub fn decode(v: &[u8]) -> Result<Override, String> {
        let s = std::str::from_utf8(v).map_err(|_| "override_stat is not text".to_string())?;
        let s = s.trim_end_matches('\0');
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() < 3 {
            return Err(format!("override_stat '{s}' has fewer than 3 fields"));
        }
        let uid = parts[0]
            .parse::<u32>()
            .map_err(|_| format!("override_stat '{s}': bad uid"))?;
        let gid = parts[1]
            .parse::<u32>()
            .map_err(|_| format!("override_stat '{s}': bad gid"))?;
        let mode = u32::from_str_radix(parts[2], 8)
            .map_err(|_| format!("override_stat '{s}': bad mode"))?;
        let kind = match parts.get(3) {
            None => None,
            Some(t) => {
                Some(parse_kind(t).ok_or_else(|| format!("override_stat '{s}': bad type '{t}'"))?)
            }
        };
        Ok(Override {
            uid,
            gid,
            mode: mode & 0o7777,
            kind,
        })
    }
}

fn parse_kind(t: &str) -> Option<OverrideKind> {
    let dev = |rest: &str| -> Option<(u32, u32)> {
        let mut it = rest.split('-');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    Some(match t {
        "file" => OverrideKind::File,
        "dir" => OverrideKind::Dir,
        "symlink" => OverrideKind::Symlink,
        "pipe" => OverrideKind::Pipe,
        "socket" => OverrideKind::Socket,
        _ if t.starts_with("block-") => {
            let (a, b) = dev(&t[6..])?;
            OverrideKind::Block(a, b)
        }
        _ if t.starts_with("char-") => {
            let (a, b) = dev(&t[5..])?;
            OverrideKind::Char(a, b)
        }
        _ => return None,
    })
}

/// Decode umoci's `user.rootlesscontainers` protobuf: (uid, gid); an
/// absent field is 0 (proto3 default), 0xFFFFFFFF ("unchanged") is `None`.
///
/// # Errors
/// A truncated or malformed message.
pub fn decode_rootless(v: &[u8]) -> Result<(Option<u32>, Option<u32>), String> {
    let mut i = 0;
    let mut uid = Some(0);
    let mut gid = Some(0);
    let varint = |i: &mut usize| -> Result<u64, String> {
        let mut out: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *v.get(*i).ok_or("truncated rootlesscontainers varint")?;
            *i += 1;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err("overlong rootlesscontainers varint".into())
    };
    while i < v.len() {
        let key = varint(&mut i)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let val = varint(&mut i)?;
                let val = u32::try_from(val).map_err(|_| "rootlesscontainers id over 32 bits")?;
                let val = (val != u32::MAX).then_some(val);
                match field {
                    1 => uid = val,
                    2 => gid = val,
                    _ => {}
                }
            }
            2 => {
                let len = varint(&mut i)? as usize;
                i = i
                    .checked_add(len)
                    .filter(|&e| e <= v.len())
                    .ok_or("truncated rootlesscontainers field")?;
            }
            5 => i += 4,
            1 => i += 8,
            _ => return Err(format!("rootlesscontainers: unsupported wire type {wire}")),
        }
    }
    Ok((uid, gid))
}

#[cfg(test)]
/// Encode umoci's `user.rootlesscontainers` (the tests' fixtures).
pub fn encode_rootless(uid: u32, gid: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |field: u64, mut v: u64| {
        let mut key = field << 3;
        loop {
            let b = (key & 0x7f) as u8;
            key >>= 7;
            out.push(if key == 0 { b } else { b | 0x80 });
            if key == 0 {
                break;
            }
        }
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            out.push(if v == 0 { b } else { b | 0x80 });
            if v == 0 {
                break;
            }
        }
    };
    if uid != 0 {
        put(1, u64::from(uid));
    }
    if gid != 0 {
        put(2, u64::from(gid));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_table() {
        let cases: &[(&str, Option<Override>)] = &[
            (
                "0:42:0640:file",
                Some(Override {
                    uid: 0,
                    gid: 42,
                    mode: 0o640,
                    kind: Some(OverrideKind::File),
                }),
            ),
            (
                "0:0:4755:file",
                Some(Override {
                    uid: 0,
                    gid: 0,
                    mode: 0o4755,
                    kind: Some(OverrideKind::File),
                }),
            ),
            (
                "0:0:0666:char-1-3",
                Some(Override {
                    uid: 0,
                    gid: 0,
                    mode: 0o666,
                    kind: Some(OverrideKind::Char(1, 3)),
                }),
            ),
            (
                "5:6:0660:block-8-0",
                Some(Override {
                    uid: 5,
                    gid: 6,
                    mode: 0o660,
                    kind: Some(OverrideKind::Block(8, 0)),
                }),
            ),
            (
                "0:0:0555",
                Some(Override {
                    uid: 0,
                    gid: 0,
                    mode: 0o555,
                    kind: None,
                }),
            ),
            (
                "0:0:1777:dir",
                Some(Override {
                    uid: 0,
                    gid: 0,
                    mode: 0o1777,
                    kind: Some(OverrideKind::Dir),
                }),
            ),
            ("0:0", None),
            ("x:0:0644:file", None),
            ("0:0:0999:file", None),
            ("0:0:0644:char-1", None),
            ("0:0:0644:weird", None),
        ];
        for (s, want) in cases {
            let got = Override::decode(s.as_bytes()).ok();
            assert_eq!(&got, want, "{s}");
            if let Some(o) = got
                && o.kind.is_some()
            {
                assert_eq!(o.encode(), *s);
            }
        }
    }

    /// What the xattr sink writes, `read_records` reads back: the owner,
    /// mode and type of the record, a capability's name, an ACL's
    /// permission entries from the recorded mode.
    #[test]
    fn records_read_back_what_the_sink_stores() {
        // user::rw- user:1000:r-- group::r-- mask::r-x other::r--
        let acl = |perms: [u16; 5]| {
            let mut v = 2u32.to_le_bytes().to_vec();
            for ((tag, id), p) in [(1u16, 0u32), (2, 1000), (4, 0), (0x10, 0), (0x20, 0)]
                .into_iter()
                .zip(perms)
            {
                v.extend_from_slice(&tag.to_le_bytes());
                v.extend_from_slice(&p.to_le_bytes());
                v.extend_from_slice(&id.to_le_bytes());
            }
            v
        };
        let true_acl = acl([4, 4, 4, 5, 4]);
        let on_disk = stored_xattr("system.posix_acl_access", &true_acl, 0o654);
        assert_eq!(
            on_disk.1,
            acl([6, 4, 4, 5, 4]),
            "owner bits of the mode on disk"
        );
        let cap = stored_xattr("security.capability", b"cap", 0o644);
        assert_eq!(cap.0, "user.containers.override_security.capability");
        assert_eq!(stored_xattr("user.note", b"n", 0).0, "user.note");
        let mut e = Entry::new("dev/x", Kind::File);
        e.mode = 0o654;
        e.xattrs = vec![
            (OVERRIDE_XATTR.into(), b"0:42:0454:char-1-3".to_vec()),
            on_disk,
            cap,
        ];
        assert_eq!(read_records(&mut e), Ok(true));
        assert_eq!((e.kind, e.dev_major, e.dev_minor), (Kind::Char, 1, 3));
        assert_eq!((e.uid, e.gid, e.mode), (0, 42, 0o454));
        assert_eq!(
            e.xattrs,
            vec![
                ("system.posix_acl_access".into(), true_acl),
                ("security.capability".into(), b"cap".to_vec())
            ]
        );
        let mut plain = Entry::new("f", Kind::File);
        plain.uid = 1001;
        assert_eq!(read_records(&mut plain), Ok(false));
        assert_eq!(plain.uid, 1001);
        let mut umoci = Entry::new("f", Kind::File);
        umoci.xattrs = vec![(ROOTLESS_XATTR.into(), encode_rootless(5, 6))];
        assert_eq!(read_records(&mut umoci), Ok(true));
        assert_eq!((umoci.uid, umoci.gid, umoci.xattrs.len()), (5, 6, 0));
        let mut bad = Entry::new("f", Kind::File);
        bad.xattrs = vec![(OVERRIDE_XATTR.into(), b"0:x:0644".to_vec())];
        assert!(read_records(&mut bad).unwrap_err().contains("bad gid"));
    }

    #[test]
    fn rootless_protobuf() {
        for (u, g) in [(0, 0), (1, 0), (0, 42), (100000, 4294967294)] {
            let v = encode_rootless(u, g);
            assert_eq!(decode_rootless(&v).unwrap(), (Some(u), Some(g)));
        }
        assert_eq!(
            decode_rootless(&[0x08, 0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap(),
            (None, Some(0))
        );
        assert!(decode_rootless(&[0x08]).is_err());
    }
}
