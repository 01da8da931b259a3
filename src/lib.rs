//! # alientar — a tar archiver for alien ownership
//!
//! alientar stores every entry's owner *as seen inside its context* (a
//! rootless container's user namespace, an image built by an ordinary user,
//! a backup made for another host) together with a persistent context label,
//! and translates ownership through user-namespace ID maps — kernel
//! `uid_map` semantics — when it creates, lists and extracts archives.
//!
//! ## The API
//! One function per command, each taking an options struct, the
//! [`Registry`] of named contexts and a [`Progress`] handle where the
//! command is long, and returning a [`Report`] of per-entry warnings and
//! errors:
//! - [`create()`] with [`CreateOptions`]: walk a tree, store owners in the
//!   context view (through a map, inside a user namespace, or from
//!   override xattrs or an mtree manifest); its [`Normalize`] ([`SetMtime`],
//!   [`ForceOwner`], [`ModeChanges`], [`XattrFilter`]) sets times, owners,
//!   modes and xattrs the same way in every member, for reproducible
//!   archives ([`parse_date`], [`source_date_epoch`] read the dates);
//!   its [`Incremental`] makes the full archive of an incremental chain,
//!   or an increment over the archive made last (only what changed, and
//!   the names that are gone; its entry index records the whole tree);
//!   its [`TarFormat`] leaves alientar's global header and labels out for
//!   other consumers;
//! - [`create_image()`] with [`ImageOptions`]: the same tree as a one-layer
//!   OCI image in an image layout, the layer a plain pax stream
//!   ([`TarFormat::Pax`]), the context in the config's labels (an image is
//!   no incremental archive); or, on a base image
//!   ([`ImageOptions::base`]), its layers and one with what differs;
//! - [`extract()`] with [`ExtractOptions`]: restore through an owner sink
//!   ([`Owners`]), never writing outside the destination; [`to_stdout`];
//!   the reading commands read container images too (`oci:DIR[:TAG]`,
//!   `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]` as the
//!   archive: every blob verified, then the layers' final view);
//! - [`list()`] with [`ListOptions`]; [`check()`] (are all owners mappable?)
//!   and [`print_check`]; [`diff()`] with [`DiffOptions`]; [`remap()`] with
//!   [`RemapOptions`];
//! - [`unshare()`] with [`UnshareOptions`]: run a command inside a
//!   context's user namespace, as `podman unshare` does.
//!
//! Selection, as GNU tar's options give it: [`Exclude`] (names left out,
//! matched as [`Matching`] says) for every command, [`Select`] (with
//! [`ExcludeCaches`] and `--one-file-system`) for create; [`read_names`]
//! and [`read_patterns`] read `-T` and `-X` lists.
//!
//! Ownership: [`IdMap`] ([`UidMap`], [`GidMap`]) is one kernel-style map,
//! [`Maps`] a pair, [`parse_spec`] reads a `--map` argument; [`Registry`]
//! resolves context labels to maps; [`OwnerOptions`] and [`Unmapped`] say
//! how every command translates. [`Entry`] is one archive member.
//! Errors are [`Error`], with [`ErrorKind`] and the I/O cause as
//! [`std::error::Error::source`]. A display of progress implements
//! [`Observer`].
//!
//! The modules behind these are private; docs/architecture.md in the
//! source has the module map, the data flows and where the invariants
//! (confinement, atomic placement, entering a user namespace) live.
//!
//! ## Example
//! ```
//! use alientar::UidMap;
//! let m = UidMap::parse_list("0:1001:1,1:100000:65536").unwrap();
//! assert_eq!(m.to_host(42), Some(100041));
//! assert_eq!(m.to_context(1001), Some(0));
//! ```
#![deny(missing_docs)]

mod archive;
mod check;
mod context;
mod create;
mod date;
mod diff;
mod digest;
mod entry;
mod error;
mod extract;
mod frame;
mod gnu;
mod idmap;
mod image;
mod input;
mod list;
mod live;
mod member;
mod modechange;
mod mtree;
mod names;
mod ondisk;
mod output;
mod ownership;
mod pattern;
mod progress;
mod quote;
mod remap;
mod report;
mod select;
mod sink;
mod sys;
mod tar;
mod transform;
mod translate;
mod unshare;
mod walk;

#[cfg(test)]
mod testutil;

pub use check::{CheckResult, Usage, check, print as print_check};
pub use context::{Context, Maps, Registry, user_contexts_file, validate_label};
pub use create::{
    CreateOptions, ForceOwner, ImageOptions, Incremental, Normalize, SetMtime, XattrFilter, create,
    create_image, validate_tag,
};
pub use date::{parse_date, source_date_epoch};
pub use diff::{DiffOptions, DiffReport, Difference, What, diff};
pub use entry::{Entry, Kind, Time};
pub use error::{Error, ErrorKind, Result};
pub use extract::{ExtractOptions, OldFiles, Owners, extract, to_stdout};
pub use idmap::{Extent, GidKind, GidMap, IdKind, IdMap, Invoker, UidKind, UidMap, parse_spec};
pub use list::{ListFormat, ListOptions, list};
pub use live::{Live, LiveNamespace, namespaces as live_namespaces};
pub use modechange::ModeChanges;
pub use output::OutFormat;
pub use ownership::OwnerOptions;
pub use pattern::Matching;
pub use progress::{Observer, Progress, Snapshot};
pub use remap::{RemapOptions, remap};
pub use report::Report;
pub use select::{Exclude, ExcludeCaches, Select, VCS_NAMES, read_names, read_patterns};
pub use tar::format::TarFormat;
pub use transform::Transform;
pub use translate::Unmapped;
pub use unshare::{UNSHARE_ENV, UnshareError, UnshareOptions, unshare};

/// Not API: what the binary, the fuzz targets, the benchmarks and the
/// integration tests reach below the public surface. It may change in any
/// release.
#[doc(hidden)]
pub mod internals {
    pub use crate::gnu::totals_line;
    pub use crate::idmap::{SubRange, parse_subid};
    pub use crate::quote::escaped;
    pub use crate::sys::sigpipe::die_of_sigpipe;

    /// The tar codec.
    pub mod tar {
        pub use crate::tar::Reader;
        pub use crate::tar::header::checksum_ok;
        pub use crate::tar::read::MAX_NAME;
        pub use crate::tar::write::{encode_entry, encode_global, end_of_archive, pad};
        /// pax extended-header records.
        pub mod pax {
            pub use crate::tar::pax::{
                base64_decode, base64_encode, parse_records, parse_time, parse_u64, percent_decode,
                percent_encode, push_record, records,
            };
        }
    }

    /// Opening and decompressing archives.
    pub mod input {
        pub use crate::input::{Compression, decompress, open};
    }

    /// The frame layer: entry index and seek table.
    pub mod frame {
        pub use crate::frame::index::{IndexBuilder, IndexReader, Indexed, decode};
        pub use crate::frame::read::Seekable;
        pub use crate::frame::seek::SeekTable;
    }

    /// mtree specs.
    pub mod mtree {
        pub use crate::mtree::{escape, parse, unescape};
    }
}
