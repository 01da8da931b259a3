//! The first pass: every layer read whole and verified — the blob against
//! its digest and size, the uncompressed stream against its diff_id — its
//! entries kept (headers only), the layers in parallel.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::tar::Reader;

use super::view::View;
use super::{Image, Layer};
use crate::digest::{Algorithm, Hashing, Seen};

/// Most entries an image's layers may hold together: the first pass keeps
/// their headers in memory to compute the final view.
pub const MAX_ENTRIES: usize = 1 << 22;

/// An image whose layers have been read and verified.
pub struct Scanned {
    /// The image.
    pub image: Image,
    /// Each layer's entries, in order, whiteouts included.
    pub layers: Vec<Vec<Entry>>,
}

impl Scanned {
    /// Read and verify every layer of `image`.
    ///
    /// # Errors
    /// A layer that cannot be read, is malformed, or fails its digest, its
    /// size or its diff_id: the message names it.
    pub fn scan(image: Image) -> Result<Scanned> {
        let n = image.layers.len();
        let layers = image
            .layers
            .par_iter()
            .enumerate()
            .map(|(i, l)| {
                scan_layer(&image, l).map_err(|e| {
                    e.with_context(format!(
                        "{}: layer {} of {n} ({})",
                        image.name,
                        i + 1,
                        l.shown
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let total: usize = layers.iter().map(Vec::len).sum();
        if total > MAX_ENTRIES {
            return Err(Error::format(format!(
                "{}: the layers hold {total} entries; alientar reads images of at most {MAX_ENTRIES}",
                image.name
            )));
        }
        Ok(Scanned { image, layers })
    }

    /// The final view of the layers, for the second pass.
    pub fn view(self) -> (Image, View) {
        let names: Vec<String> = self.image.layers.iter().map(|l| l.shown.clone()).collect();
        let view = View::build(self.layers, &names);
        (self.image, view)
    }
}

/// A layer's uncompressed tar stream as [`open_layer`] opens it.
pub(super) struct Opened {
    /// The stream.
    pub plain: Box<dyn Read + Send>,
    /// What was read of the blob: its digest, once read to its end.
    pub blob: Arc<Mutex<Seen>>,
    /// The blob's size.
    pub size: u64,
}

/// The uncompressed tar stream of `layer`, from its blob: the blob's size
/// is checked first and its bytes are hashed as they are read.
pub(super) fn open_layer(image: &Image, layer: &Layer) -> Result<Opened> {
    let blob = image.store.open(&layer.file)?;
    if let Some(want) = layer.size
        && want != blob.size
    {
        return Err(Error::format(format!(
            "the blob holds {} bytes, not the {want} its descriptor says",
            blob.size
        )));
    }
    let algorithm = layer
        .digest
        .as_ref()
        .map_or(Algorithm::Sha256, |d| d.algorithm);
    let (raw, seen) = Hashing::new(blob.reader.take(blob.size), algorithm);
    let (_, plain) = crate::input::decompress(Box::new(raw))?;
    Ok(Opened {
        plain,
        blob: seen,
        size: blob.size,
    })
}

/// One layer's entries, the layer verified.
fn scan_layer(image: &Image, layer: &Layer) -> Result<Vec<Entry>> {
    let Opened {
        plain,
        blob: blob_seen,
        size,
    } = open_layer(image, layer)?;
    let (plain, diff_seen) = Hashing::new(plain, layer.diff_id.algorithm);
    let mut rd = Reader::new(plain);
    if let Some(l) = &image.label {
        rd.declare_label(l);
    }
    let mut entries = Vec::new();
    while let Some(e) = rd.next_entry()? {
        if entries.len() >= MAX_ENTRIES {
            return Err(Error::format(format!(
                "it holds more than {MAX_ENTRIES} entries"
            )));
        }
        entries.push(e);
    }
    // What follows the end-of-archive blocks is hashed too.
    let mut rest = rd.into_inner();
    io::copy(&mut rest, &mut io::sink())
        .map_err(|e| Error::io_nopath("cannot read the layer", e))?;
    drop(rest);
    let mut blob = blob_seen.lock().unwrap_or_else(|p| p.into_inner());
    if blob.bytes != size {
        return Err(Error::format(format!(
            "its compressed stream ends after {} of the blob's {size} bytes",
            blob.bytes
        )));
    }
    if let (Some(want), Some(got)) = (&layer.digest, blob.digest())
        && *want != got
    {
        return Err(Error::format(format!(
            "the blob does not match its digest (its content is {got})"
        )));
    }
    let mut diff = diff_seen.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(got) = diff.digest()
        && got != layer.diff_id
    {
        return Err(Error::format(format!(
            "its uncompressed content is {got}, not the diff_id {} the config says",
            layer.diff_id
        )));
    }
    Ok(entries)
}
