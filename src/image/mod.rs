//! Container images as archives: `-f oci:DIR[:TAG]`,
//! `oci-archive:FILE[:TAG]` and `docker-archive:FILE[:REF]`.
//!
//! An image is read in two passes. The first ([`scan`]) reads every layer
//! whole — each layer blob hashed against its digest and size as it is
//! read, its uncompressed stream against the config's `rootfs.diff_ids`,
//! its tar headers kept — before anything is applied: a blob that fails
//! stops the run before a file is written. From the layers' entries
//! [`view`] computes the image's final view, as applying the layers in
//! order would leave it: whiteouts (`.wh.NAME`, `.wh..wh..opq`) remove
//! what the layers below hold, an entry replaces what its name held, a
//! hard link whose target a later layer replaced keeps the data it had.
//! The second pass ([`stream`]) reads the layers again and hands on only
//! the entries of the final view, each with its data from the layer that
//! holds it, renamed where that view says (a hard link that became the
//! file): what reads it (extract, diff) sees one archive whose names are
//! all distinct. Whiteouts and replaced entries never reach the
//! destination; nothing is deleted there.

mod docker;
mod oci;
mod scan;
mod store;
mod stream;
mod view;

use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageConfiguration};

pub use scan::Scanned;
pub use store::Blob;
pub use stream::Stream;
pub use view::{View, Whiteout, whiteout};

use crate::digest::{self, Digest};
use crate::error::{Error, Result};
use store::Store;

/// Largest JSON document of an image alientar reads (index, manifest,
/// config).
pub const MAX_JSON: u64 = 4 << 20;

/// The config label that gives an image's context, as an archive's
/// global header does (`ALIENTAR.context`).
pub const CONTEXT_LABEL: &str = "org.alientar.context";

/// An image named on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRef {
    /// `oci:DIR[:TAG]`: an OCI image layout directory.
    Oci {
        /// The layout.
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` of the manifest.
        tag: Option<String>,
    },
    /// `oci-archive:FILE[:TAG]`: a tar archive of an OCI image layout.
    OciArchive {
        /// The archive.
        file: PathBuf,
        /// As for [`ImageRef::Oci`].
        tag: Option<String>,
    },
    /// `docker-archive:FILE[:REF]`: `podman save`'s default format.
    DockerArchive {
        /// The archive.
        file: PathBuf,
        /// A tag of `RepoTags`, or `@N`.
        reference: Option<String>,
    },
}

impl ImageRef {
    /// The image `-f` names, if it names one: the transport is what comes
    /// before the first `:`, the path what comes before the next one, as in
    /// skopeo (a file whose name starts with `oci:` is named `./oci:...`).
    pub fn parse(arg: &Path) -> Option<ImageRef> {
        let s = arg.to_str()?;
        let (transport, rest) = s.split_once(':')?;
        let (path, tag) = match rest.split_once(':') {
            Some((p, t)) => (p, (!t.is_empty()).then(|| t.to_string())),
            None => (rest, None),
        };
        let path = PathBuf::from(path);
        match transport {
            "oci" => Some(ImageRef::Oci { dir: path, tag }),
            "oci-archive" => Some(ImageRef::OciArchive { file: path, tag }),
            "docker-archive" => Some(ImageRef::DockerArchive {
                file: path,
                reference: tag,
            }),
            _ => None,
        }
    }
}

/// One layer, as the manifest and config describe it.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Its file in the store (`blobs/sha256/HEX`, `ID/layer.tar`).
    file: String,
    /// Its name in messages (its digest, or its file).
    shown: String,
    /// The blob's size, when a descriptor gives it.
    size: Option<u64>,
    /// The blob's digest, when a descriptor gives it.
    digest: Option<Digest>,
    /// The digest of its uncompressed tar stream.
    diff_id: Digest,
    /// Its descriptor in the manifest (an OCI image's).
    descriptor: Option<Descriptor>,
}

impl Layer {
    /// The layer's name in messages: its digest, or its file in a
    /// docker-archive.
    pub fn name(&self) -> &str {
        &self.shown
    }

    /// Its descriptor in the manifest, as the manifest has it; none in a
    /// docker-archive.
    pub fn descriptor(&self) -> Option<&Descriptor> {
        self.descriptor.as_ref()
    }
}

/// What a manifest resolves to.
pub struct Resolved {
    layers: Vec<Layer>,
    /// The config's [`CONTEXT_LABEL`].
    label: Option<String>,
    /// The config, verified, as JSON.
    config: serde_json::Value,
    /// The manifest's digest, when it has one (not in a docker-archive).
    manifest: Option<Digest>,
}

/// An opened image: where its files are, its layers in order, and the
/// context its config declares.
pub struct Image {
    store: Store,
    /// The image as named, for messages.
    name: String,
    layers: Vec<Layer>,
    label: Option<String>,
    config: serde_json::Value,
    manifest: Option<Digest>,
}

impl Image {
    /// Open the image `r` names and resolve its manifest: the index, the
    /// manifest and the config are read and verified; the layers are not
    /// read yet.
    ///
    /// # Errors
    /// The image cannot be read, a document fails its digest or is
    /// malformed, the tag names no image.
    pub fn open(r: &ImageRef, arg: &Path) -> Result<Image> {
        let (store, resolved) = match r {
            ImageRef::Oci { dir, tag } => {
                let s = Store::dir(dir)?;
                let res = oci::resolve(&s, tag.as_deref())?;
                (s, res)
            }
            ImageRef::OciArchive { file, tag } => {
                let s = Store::tar(file)?;
                let res = oci::resolve(&s, tag.as_deref())?;
                (s, res)
            }
            ImageRef::DockerArchive { file, reference } => {
                let s = Store::tar(file)?;
                let res = docker::resolve(&s, reference.as_deref())?;
                (s, res)
            }
        };
        Ok(Image {
            store,
            name: arg.display().to_string(),
            layers: resolved.layers,
            label: resolved.label,
            config: resolved.config,
            manifest: resolved.manifest,
        })
    }

    /// The layers, base first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The image as named, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The context its config declares ([`CONTEXT_LABEL`]).
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Its config (verified against its digest, when it has one).
    pub fn config(&self) -> &serde_json::Value {
        &self.config
    }

    /// The digest of its manifest (none in a docker-archive).
    pub fn manifest_digest(&self) -> Option<&Digest> {
        self.manifest.as_ref()
    }

    /// The blob of `layer`, as stored (not verified here: [`Scanned::scan`]
    /// verifies it).
    ///
    /// # Errors
    /// It cannot be opened.
    pub fn open_blob(&self, layer: &Layer) -> Result<Blob> {
        self.store.open(&layer.file)
    }
}

/// The diff_ids of a config, checked, and its context label.
fn config_parts(
    store: &Store,
    config: &ImageConfiguration,
) -> Result<(Vec<Digest>, Option<String>)> {
    let rootfs = config.rootfs();
    if rootfs.typ() != "layers" {
        return Err(Error::format(format!(
            "the image config's rootfs.type is '{}', not 'layers'",
            digest::shown(rootfs.typ())
        ))
        .with_path(store.path()));
    }
    let diff_ids = rootfs
        .diff_ids()
        .iter()
        .map(|d| Digest::parse(d).map_err(|e| e.with_path(store.path())))
        .collect::<Result<Vec<_>>>()?;
    let label = match config.get_config_annotation(CONTEXT_LABEL) {
        Some(l) => {
            crate::context::validate_label(l).map_err(|m| {
                Error::format(format!("the image config's {CONTEXT_LABEL}: {m}"))
                    .with_path(store.path())
            })?;
            Some(l.to_string())
        }
        None => None,
    };
    Ok((diff_ids, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_are_what_comes_before_the_first_colon() {
        let p = |s: &str| ImageRef::parse(Path::new(s));
        let oci = |d: &str, t: Option<&str>| ImageRef::Oci {
            dir: d.into(),
            tag: t.map(str::to_string),
        };
        assert_eq!(p("oci:img"), Some(oci("img", None)));
        assert_eq!(p("oci:/x/img:v1"), Some(oci("/x/img", Some("v1"))));
        assert_eq!(p("oci:img:"), Some(oci("img", None)));
        // The tag is the rest, colons and all (skopeo's split).
        assert_eq!(p("oci:img:a:b"), Some(oci("img", Some("a:b"))));
        assert_eq!(
            p("docker-archive:s.tar:localhost/x:1"),
            Some(ImageRef::DockerArchive {
                file: "s.tar".into(),
                reference: Some("localhost/x:1".into())
            })
        );
        assert!(matches!(
            p("oci-archive:a.tar"),
            Some(ImageRef::OciArchive { .. })
        ));
        for plain in ["./oci:x", "a.tar", "-", "/srv/oci:x", "docker:x", "ocix:y"] {
            assert_eq!(p(plain), None, "{plain}");
        }
    }
}
