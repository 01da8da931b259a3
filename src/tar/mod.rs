//! The tar layer, split by level: block and field codecs ([`header`]), pax
//! records ([`pax`]), the stream reader ([`read`]) and the encoder ([`write`](mod@write)).

pub mod header;
pub mod pax;
pub mod read;
pub mod write;

pub use read::Reader;
