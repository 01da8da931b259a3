//! The tar layer, split by level: block and field codecs ([`header`]), pax
//! records ([`pax`]) and their keys ([`keys`]), the stream reader
//! ([`read`]) and the encoder ([`write`](mod@write)), with the dialects it
//! writes ([`format`]).
//!
//! The codec knows tar, not where its bytes come from: a byte source that
//! holds decompressed data lends it through [`Lend`] instead of copying.

pub mod format;
mod globals;
pub mod header;
pub mod keys;
pub mod listed;
pub mod pax;
pub mod read;
mod sparse;
pub mod write;

pub use read::Reader;

use std::io::{self, Read};

/// A byte source that can lend bytes it already holds (decompressed
/// frames) instead of copying them into the reader's buffer: a small
/// file's data is then a share of its frame.
pub trait Lend: Read {
    /// Lent bytes; they stay valid as long as the loan lives.
    type Loan: std::ops::Deref<Target = [u8]>;

    /// Up to `n` bytes at the read position, consumed as by a read (fewer
    /// where the source's buffer ends; empty at the end of the data).
    /// `None`, the default, when this source cannot lend: the caller
    /// copies with a read instead.
    ///
    /// # Errors
    /// A read or decompression error.
    fn lend(&mut self, _n: usize) -> io::Result<Option<Self::Loan>> {
        Ok(None)
    }
}

impl<L: Lend + ?Sized> Lend for Box<L> {
    type Loan = L::Loan;

    fn lend(&mut self, n: usize) -> io::Result<Option<L::Loan>> {
        (**self).lend(n)
    }
}
