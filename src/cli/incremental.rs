//! `create`'s options for incremental archives.

use std::path::PathBuf;

use clap::Args;

use alientar::Incremental;

#[derive(Args, Debug)]
#[command(next_help_heading = "Incremental archives")]
pub(super) struct IncrementalArgs {
    /// Make the full archive an incremental chain starts with: it records
    /// when it was made, so that the first increment finds every file
    /// changed since by its change time.
    #[arg(long, conflicts_with = "incremental_from")]
    incremental: bool,
    /// Store only what is new or changed since the archive PREV (a chain's
    /// full archive or increment, or any archive), and the names of PREV's
    /// entries that are gone.
    ///
    /// A file is stored when its type, size, modification time, mode,
    /// owners (in the context view), xattrs, link target or hard links
    /// differ from PREV's entry, or its change time is later than when PREV
    /// was made. extract of the full archive, then of each increment in
    /// order, gives the tree as it was for the last one: names the
    /// increment lists as deleted are removed. PREV's entry index gives its
    /// state without reading its data (a zstd archive of alientar's); an
    /// archive without one is read whole, and must then be a full archive.
    /// The increment's index records the whole tree, so PREV is always one
    /// file: the one made last. What --exclude and the like leave out is
    /// not deleted (as with GNU tar's --listed-incremental); an increment
    /// that takes it again stores it anew. An image (oci:DIR) is no PREV,
    /// and --oci makes no increment.
    #[arg(long, value_name = "PREV")]
    incremental_from: Option<PathBuf>,
}

impl IncrementalArgs {
    /// The library's option.
    pub(super) fn incremental(&self) -> Incremental {
        match (&self.incremental_from, self.incremental) {
            (Some(p), _) => Incremental::From(p.clone()),
            (None, true) => Incremental::Full,
            (None, false) => Incremental::No,
        }
    }
}
