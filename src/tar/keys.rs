//! pax record keys, and the keys of alientar's global header: every key
//! the reader and the writers match or emit, named in one place.

/// The member name, when it does not fit the ustar name and prefix.
pub const PATH: &str = "path";
/// The link target, when it does not fit the ustar field.
pub const LINKPATH: &str = "linkpath";
/// The data size, when it does not fit the ustar field.
pub const SIZE: &str = "size";
/// The modification time, with nanoseconds.
pub const MTIME: &str = "mtime";
/// The owner's ID.
pub const UID: &str = "uid";
/// The group's ID.
pub const GID: &str = "gid";
/// The owner's name.
pub const UNAME: &str = "uname";
/// The group's name.
pub const GNAME: &str = "gname";

/// Prefix of an xattr record: `SCHILY.xattr.NAME=raw value` (GNU tar,
/// star, bsdtar).
pub const SCHILY_XATTR: &str = "SCHILY.xattr.";
/// Prefix of bsdtar's xattr record for names a pax key cannot hold:
/// `LIBARCHIVE.xattr.%-ENCODED-NAME=base64 value`.
pub const LIBARCHIVE_XATTR: &str = "LIBARCHIVE.xattr.";
/// Red Hat's tar: the SELinux context as a record of its own.
pub const RHT_SELINUX: &str = "RHT.security.selinux";
/// The xattr [`RHT_SELINUX`] carries.
pub const SELINUX_XATTR: &str = "security.selinux";

/// GNU sparse 0.0 and 0.1: the file's real size.
pub const GNU_SPARSE_SIZE: &str = "GNU.sparse.size";
/// GNU sparse 1.0: the file's real size.
pub const GNU_SPARSE_REALSIZE: &str = "GNU.sparse.realsize";
/// GNU sparse: the format's major version (`1` puts the map in the data).
pub const GNU_SPARSE_MAJOR: &str = "GNU.sparse.major";
/// GNU sparse 0.1 and 1.0: the member's real name.
pub const GNU_SPARSE_NAME: &str = "GNU.sparse.name";
/// GNU sparse 0.0: a segment's offset (repeated, paired in order with
/// [`GNU_SPARSE_NUMBYTES`]).
pub const GNU_SPARSE_OFFSET: &str = "GNU.sparse.offset";
/// GNU sparse 0.0: a segment's length.
pub const GNU_SPARSE_NUMBYTES: &str = "GNU.sparse.numbytes";
/// GNU sparse 0.1: the whole map, `offset,length,...`.
pub const GNU_SPARSE_MAP: &str = "GNU.sparse.map";

/// Global header: the version of alientar's archive format.
pub const ALIENTAR_VERSION: &str = "ALIENTAR.version";
/// Global header: the archive's label, which every later member without a
/// label record of its own has (an empty record: no label); with a suffix,
/// per-label records (see [`context_uidmap`]).
pub const ALIENTAR_CONTEXT: &str = "ALIENTAR.context";

/// Global header of an archive of an incremental chain: [`INCREMENTAL_FULL`]
/// or [`INCREMENTAL_INCREMENT`].
pub const ALIENTAR_INCREMENTAL: &str = "ALIENTAR.incremental";
/// [`ALIENTAR_INCREMENTAL`] of a chain's full archive.
pub const INCREMENTAL_FULL: &str = "full";
/// [`ALIENTAR_INCREMENTAL`] of an increment.
pub const INCREMENTAL_INCREMENT: &str = "increment";
/// Global header of an archive of an incremental chain: its state time,
/// `SECONDS.NNNNNNNNN`. A file whose status changed at or after it may be
/// missing from the archive's state; one that did not is in it as it is.
pub const ALIENTAR_INCREMENTAL_TIME: &str = "ALIENTAR.incremental.time";
/// Listing header of an increment: the names it deletes, each followed by
/// a NUL byte, in the order they are deleted.
pub const ALIENTAR_DELETED: &str = "ALIENTAR.deleted";
/// Listing header of an increment: the names of its members that replace
/// an entry of the state it follows, each followed by a NUL byte.
pub const ALIENTAR_CHANGED: &str = "ALIENTAR.changed";

/// Global header key of the uid map `label`'s context had at create time.
pub fn context_uidmap(label: &str) -> String {
    format!("{ALIENTAR_CONTEXT}.{label}.uidmap")
}

/// Global header key of the gid map `label`'s context had at create time.
pub fn context_gidmap(label: &str) -> String {
    format!("{ALIENTAR_CONTEXT}.{label}.gidmap")
}

/// The format version alientar writes as [`ALIENTAR_VERSION`].
pub const FORMAT_VERSION: &str = "1";

/// The records of alientar's global header: the format version, the
/// archive's label if it has one, then each label's uid and gid maps (SPEC
/// form), in the order given.
pub fn global_records<'a>(
    archive: Option<&str>,
    contexts: impl IntoIterator<Item = (&'a str, String, String)>,
) -> Vec<(String, String)> {
    let mut records = vec![(ALIENTAR_VERSION.to_string(), FORMAT_VERSION.to_string())];
    if let Some(l) = archive {
        records.push((ALIENTAR_CONTEXT.to_string(), l.to_string()));
    }
    for (label, uidmap, gidmap) in contexts {
        records.push((context_uidmap(label), uidmap));
        records.push((context_gidmap(label), gidmap));
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_label_keys() {
        assert_eq!(
            context_uidmap("rootless"),
            "ALIENTAR.context.rootless.uidmap"
        );
        assert_eq!(context_gidmap("a.b"), "ALIENTAR.context.a.b.gidmap");
    }
}
