//! `create --oci DIR:TAG --base IMAGE`: the base image the new layer goes
//! on. It is opened and its manifest and config resolved before the layout
//! is touched (a base that does not exist, a tag it does not have, another
//! platform: nothing written); its layers are read and verified, and its
//! final view computed, when the run has entered the walk's namespace (the
//! first pass reads layers on threads, and a namespace is entered by a
//! process of one thread). The view's regular files are read a second
//! time, from their layers, only where a file of the tree has the same
//! metadata and its content must say whether it changed.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Arch, Descriptor, MediaType, Os, Sha256Digest};

use super::delta::key;
use super::layout::Layout;
use crate::digest::{Algorithm, Digest};
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::image::{Image, ImageRef, Layer, Scanned, Stream, View};
use crate::input::Compression;

/// The base image, opened: its manifest and config resolved and verified.
pub(in crate::create) struct Base {
    image: Image,
}

/// The base image's final view, its layers verified.
pub(in crate::create) struct Loaded {
    image: Image,
    view: View,
    /// The view's entries by name ([`key`]).
    pub(in crate::create) entries: HashMap<Vec<u8>, Entry>,
}

impl Base {
    /// Open the image `arg` names (`oci:DIR:TAG`, `oci-archive:FILE[:TAG]`,
    /// `docker-archive:FILE[:REF]`) and check that it is one for this
    /// machine.
    ///
    /// # Errors
    /// Not an image name; an image that cannot be read, has no such tag,
    /// fails its digests, or is for another platform.
    pub(in crate::create) fn open(arg: &Path) -> Result<Base> {
        let r = ImageRef::parse(arg).ok_or_else(|| {
            Error::usage(format!(
                "--base {}: name an image: oci:DIR:TAG, oci-archive:FILE[:TAG] or \
                 docker-archive:FILE[:REF]",
                arg.display()
            ))
        })?;
        let image = Image::open(&r, arg).map_err(|e| e.with_context("the base image"))?;
        let field = |k: &str| image.config().get(k).and_then(|v| v.as_str()).unwrap_or("");
        let (os, arch) = (field("os"), field("architecture"));
        let (my_os, my_arch) = (Os::default().to_string(), Arch::default().to_string());
        if (os, arch) != (my_os.as_str(), my_arch.as_str()) {
            return Err(Error::usage(format!(
                "--base {}: the image is for {os}/{arch}; alientar builds images for the \
                 platform it runs on, {my_os}/{my_arch}",
                arg.display()
            )));
        }
        Ok(Base { image })
    }

    /// Read and verify every layer and compute the final view; the run's
    /// owners must be in the base's context (`label`: the run's).
    ///
    /// # Errors
    /// The base declares another context; a layer that cannot be read or
    /// fails its digest or diff_id; entries the view refuses.
    pub(in crate::create) fn load(self, label: Option<&str>) -> Result<Loaded> {
        if let Some(b) = self.image.label()
            && label != Some(b)
        {
            let ours = label.map_or("no context".to_string(), |l| format!("context '{l}'"));
            return Err(Error::usage(format!(
                "{}: the base image's owners are in context '{b}' (its config's \
                 org.alientar.context), this tree's in {ours}: give --context {b} to compare \
                 them in one view",
                self.image.name()
            )));
        }
        let (image, mut view) = Scanned::scan(self.image)?.view();
        if let Some(e) = view.errors.drain(..).next() {
            return Err(e.with_context(format!(
                "{}: the base image has entries alientar refuses",
                image.name()
            )));
        }
        let mut entries = HashMap::new();
        for p in view.layers.iter().flatten() {
            if let Some(k) = key(&p.entry.path) {
                entries.insert(k, p.entry.clone());
            }
        }
        Ok(Loaded {
            image,
            view,
            entries,
        })
    }
}

impl Loaded {
    /// Of `files` (a name of the view → the path of a regular file of the
    /// tree whose size and metadata are the view's), the names whose
    /// content differs from the view's, read from the base's layers (only
    /// those that hold one of them). A file that cannot be read differs:
    /// it is stored, and reading it then reports why. The image is handed
    /// back.
    ///
    /// # Errors
    /// A layer that cannot be read again, or changed since it was verified.
    pub(in crate::create) fn differing(
        self,
        files: HashMap<Vec<u8>, PathBuf>,
    ) -> Result<(Image, HashSet<Vec<u8>>)> {
        let Loaded {
            image, mut view, ..
        } = self;
        let mut out = HashSet::new();
        if files.is_empty() {
            return Ok((image, out));
        }
        for l in &mut view.layers {
            l.retain(|p| key(&p.entry.path).is_some_and(|k| files.contains_key(&k)));
        }
        let mut stream = Stream::new(image, view);
        let mut ours = vec![0u8; 256 << 10];
        let mut theirs = vec![0u8; 256 << 10];
        while let Some(e) = stream.next_entry()? {
            let Some(k) = key(&e.path) else { continue };
            let Some(path) = files.get(&k) else { continue };
            if !same_content(&mut stream, path, e.size, (&mut ours, &mut theirs))? {
                out.insert(k);
            }
        }
        Ok((stream.into_image(), out))
    }
}

/// Is the data of the stream's current entry (`size` bytes) that of the
/// file at `path`?
///
/// # Errors
/// The layer cannot be read.
fn same_content(
    stream: &mut Stream,
    path: &Path,
    size: u64,
    (ours, theirs): (&mut [u8], &mut [u8]),
) -> Result<bool> {
    let Ok(mut f) = crate::sys::tree::open_nofollow(path) else {
        return Ok(false);
    };
    let mut left = size;
    while left > 0 {
        let want = (ours.len() as u64).min(left) as usize;
        let mut got = 0;
        while got < want {
            match stream.reader().read_data(&mut theirs[got..want])? {
                0 => return Err(Error::format("the base's layer ended inside a file's data")),
                n => got += n,
            }
        }
        if f.read_exact(&mut ours[..want]).is_err() || ours[..want] != theirs[..want] {
            return Ok(false);
        }
        left -= want as u64;
    }
    // A file that grew since its size was taken differs too.
    Ok(matches!(f.read(&mut ours[..1]), Ok(0)))
}

/// The base's layers as layers of `layout`: a blob the layout holds
/// already (the base's own layout, or one a run put there) is shared, any
/// other copied into it, each checked against its digest as it is copied;
/// their descriptors for the new manifest (a docker-archive's layers, which
/// have none, get one for what their bytes are).
///
/// # Errors
/// A blob that cannot be read or written, or whose content is not its
/// digest.
pub(super) fn adopt_layers(image: &Image, layout: &Layout) -> Result<Vec<Descriptor>> {
    let n = image.layers().len();
    let mut out = Vec::with_capacity(n);
    for (i, l) in image.layers().iter().enumerate() {
        let d = adopt(image, l, layout).map_err(|e| {
            e.with_context(format!(
                "the base image {}: layer {} of {n} ({})",
                image.name(),
                i + 1,
                l.name()
            ))
        })?;
        out.push(d);
    }
    Ok(out)
}

/// The layer `l` of `image` in `layout`, and its descriptor.
fn adopt(image: &Image, l: &Layer, layout: &Layout) -> Result<Descriptor> {
    let want = match l.descriptor() {
        Some(d) => Some((d, Digest::parse(d.digest().as_ref())?)),
        None => None,
    };
    if let Some((d, w)) = &want
        && w.algorithm == Algorithm::Sha256
        && layout.has_blob(&w.hex)
    {
        return Ok(oci_media_type((*d).clone()));
    }
    let mut blob = image.open_blob(l)?;
    let also = want
        .as_ref()
        .map_or(Algorithm::Sha256, |(_, w)| w.algorithm);
    let c = layout.copy_blob(&mut blob.reader, also)?;
    let sha256: Sha256Digest = c.hex.parse().expect("a sha256 digest made here");
    match want {
        Some((d, w)) => {
            if c.also != w || c.size != d.size() {
                return Err(Error::format(format!(
                    "the blob changed since it was read: it holds {} bytes, {}",
                    c.size, c.also
                )));
            }
            let mut d = d.clone();
            d.set_digest(sha256.into());
            Ok(oci_media_type(d))
        }
        None => {
            let media = match crate::input::detect(&c.head) {
                Compression::None => MediaType::ImageLayer,
                Compression::Gzip => MediaType::ImageLayerGzip,
                Compression::Zstd => MediaType::ImageLayerZstd,
                other => {
                    return Err(Error::format(format!(
                        "a layer compressed with {other:?} has no OCI media type"
                    )));
                }
            };
            Ok(Descriptor::new(media, c.size, sha256))
        }
    }
}

/// `d` with Docker's media type of a gzip layer read as OCI's, which an
/// OCI manifest lists.
fn oci_media_type(mut d: Descriptor) -> Descriptor {
    if d.media_type().to_string() == "application/vnd.docker.image.rootfs.diff.tar.gzip" {
        d.set_media_type(MediaType::ImageLayerGzip);
    }
    d
}
