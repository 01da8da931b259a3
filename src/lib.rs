//! # alientar — a tar archiver for alien ownership
//!
//! alientar stores every entry's owner *as seen inside its context* (a
//! rootless container's user namespace, an image built by an ordinary user,
//! a backup made for another host) together with a persistent context label,
//! and translates ownership through user-namespace ID maps — kernel
//! `uid_map` semantics — when it creates, lists and extracts archives.
//!
//! ## Data flow
//! - **create**: [`walk`] the tree (sorted; `lstat` and xattrs in parallel)
//!   → [`Entry`] (owners from `lstat`, or from [`ondisk`] override xattrs, or
//!   an [`mtree`] spec) → [`translate`] host → context → [`tar::write`]
//!   blocks → [`frame`]: frames built (files read) and compressed in
//!   parallel, written in order, then the entry index and the seek table
//!   → [`output`]: gzip/xz/bzip2 if asked, into what `-f` names (a
//!   temporary renamed over a regular file; devices and FIFOs as they are).
//!   With a non-identity map an ordinary user walks inside a user namespace
//!   ([`sys::userns`]) instead of translating.
//! - **list** / **check**: [`archive::Entries`]: the [`frame::index`] when
//!   the archive has a valid one, else [`input`] (decompression) →
//!   [`tar::read`] → [`Entry`] → (optionally) [`translate`] context → host
//!   through the map [`ownership::MapChooser`] picks → printer.
//! - **extract**: [`input`] (seekable zstd: frames decompressed in parallel,
//!   [`frame::read`]) → [`tar::read`] → [`Entry`] → [`translate`] → workers
//!   that apply it through an owner [`sink`] (`chown`, `userns`, `xattr`,
//!   `manifest`, `none`), resolving every name beneath the destination's
//!   directory handle ([`sys`]).
//! - **remap**: [`tar::read`] → [`translate`] → [`frame`]; **diff**:
//!   [`tar::read`] → [`translate`] → comparison with the tree.
//!
//! ID maps live in [`idmap`], named contexts in [`context`], names
//! databases in [`names`]; the ownership options every command shares in
//! [`ownership`]. docs/architecture.md in the source has the module map and
//! the invariants (confinement, atomic placement, entering a user
//! namespace).

//! ## Example
//! ```
//! use alientar::idmap::UidMap;
//! let m = UidMap::parse_list("0:1001:1,1:100000:65536").unwrap();
//! assert_eq!(m.to_host(42), Some(100041));
//! assert_eq!(m.to_context(1001), Some(0));
//! ```
#![deny(missing_docs)]

pub mod archive;
pub mod check;
pub mod context;
pub mod create;
pub mod diff;
pub mod entry;
pub mod error;
pub mod extract;
pub mod frame;
pub mod gnu;
pub mod idmap;
pub mod input;
pub mod list;
pub mod member;
pub mod mtree;
pub mod names;
pub mod ondisk;
pub mod output;
pub mod ownership;
pub mod pattern;
pub mod progress;
pub mod quote;
pub mod remap;
pub mod report;
pub mod sink;
pub mod sys;
pub mod tar;
pub mod transform;
pub mod translate;
pub mod walk;

#[cfg(test)]
mod testutil;

pub use context::{Maps, Registry};
pub use entry::{Entry, Kind, Time};
pub use error::{Error, ErrorKind, Result};
pub use translate::Unmapped;
