//! `create --oci DIR:TAG`: the tree as a one-layer OCI image, written into
//! an image layout (`oci-layout`, `index.json`, `blobs/sha256/`).
//!
//! The layer is the tar stream `create` writes for the tree, owners in the
//! context view, as a plain pax stream ([`TarFormat::Pax`]: umoci 0.4.7
//! refuses a pax global header, and a label record would land on every
//! file of a consumer that restores xattrs); the context and its maps go
//! in the config's labels instead (`org.alientar.context=LABEL`,
//! `org.alientar.context.LABEL.uidmap=SPEC`, as the global header's records
//! with `ALIENTAR.` read `org.alientar.`). A zstd layer keeps alientar's
//! frames, entry index and seek table: zstd decoders skip the skippable
//! frames that hold them, so skopeo and podman read the layer as any
//! other, and alientar lists it from its index.
//!
//! The layer's diff_id is hashed from its tar stream as its frames are
//! written (a tap on the output); the blob is read back once, complete,
//! for its own digest. Every blob is written under a temporary name and
//! renamed to its digest once complete; `index.json` is replaced last, so a failed run (an
//! unmapped owner) leaves the layout as it was, bar unreferenced blobs.
//! Nothing comes from the clock: the image's `created` is the newest
//! modification time stored (`--mtime`, `--clamp-mtime` and
//! `SOURCE_DATE_EPOCH` set it), so the same tree makes the same image.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use oci_spec::image::{
    Arch, ConfigBuilder, HistoryBuilder, ImageConfigurationBuilder, ImageManifestBuilder,
    MediaType, Os, RootFsBuilder,
};

use super::members::Records;
use super::{CreateOptions, Watch};
use crate::context::Registry;
use crate::entry::Time;
use crate::error::{Error, Result};
use crate::output::{OutFormat, Output};
use crate::report::Report;
use crate::tar::format::TarFormat;

mod layout;

use layout::{Blob, Json, Layout};

/// The annotation of `index.json` that tags a manifest.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The image `create_image` writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageOptions {
    /// The image layout's directory (made when missing; an existing one
    /// keeps its other images).
    pub dir: PathBuf,
    /// The tag, `index.json`'s `org.opencontainers.image.ref.name` of the
    /// manifest: an image of the same tag is replaced.
    pub tag: String,
}

impl ImageOptions {
    /// `DIR:TAG` as `--oci` takes it (the tag after the first `:`, as in
    /// skopeo's `oci:DIR:TAG`; without one, `latest`).
    ///
    /// # Errors
    /// An empty directory name, or a tag that is not one (see
    /// [`validate_tag`]).
    pub fn parse(arg: &str) -> std::result::Result<ImageOptions, String> {
        let (dir, tag) = arg.split_once(':').unwrap_or((arg, "latest"));
        if dir.is_empty() {
            return Err(format!("--oci {arg}: no directory before the ':'"));
        }
        validate_tag(tag).map_err(|e| format!("--oci {arg}: {e}"))?;
        Ok(ImageOptions {
            dir: PathBuf::from(dir),
            tag: tag.to_string(),
        })
    }
}

/// A tag as the image layout has them: components of letters and digits
/// joined by one of `-._:@+` (or `--`), separated by `/`.
///
/// # Errors
/// What is wrong with it.
pub fn validate_tag(tag: &str) -> std::result::Result<(), String> {
    let bad = |why: &str| Err(format!("'{}' is not a tag: {why}", tag.escape_debug()));
    if tag.is_empty() {
        return bad("it is empty");
    }
    for component in tag.split('/') {
        let b = component.as_bytes();
        if b.is_empty() {
            return bad("an empty component between '/'");
        }
        if !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
            return bad("a component starts or ends with a separator");
        }
        for w in b.windows(2) {
            let sep = |c: u8| b"-._:@+".contains(&c);
            if !w.iter().all(|&c| c.is_ascii_alphanumeric() || sep(c)) {
                return bad("letters, digits and -._:@+ only");
            }
            if sep(w[0]) && sep(w[1]) && w != b"--" {
                return bad("two separators in a row");
            }
        }
    }
    Ok(())
}

/// Create the OCI image `image` of the tree `opts` names (its `archive`,
/// `tar_format` and compressions other than zstd, gzip and none are not
/// used): one layer, its config and manifest, tagged in the layout's
/// index. Otherwise as [`super::create()`].
///
/// # Errors
/// As [`super::create()`]; a directory that is neither empty nor an
/// image layout, a bad tag, a compression an image layer cannot have, a
/// layout that cannot be written.
pub fn create_image(
    opts: &CreateOptions,
    image: &ImageOptions,
    reg: &Registry,
    on_entry: &mut dyn FnMut(&[u8]),
    progress: &crate::progress::Progress,
) -> Result<Report> {
    validate_tag(&image.tag).map_err(Error::usage)?;
    if opts.incremental != super::Incremental::No {
        return Err(Error::usage(
            "an image is no incremental archive: its layer is a plain pax stream, without the \
             global header that records the chain",
        ));
    }
    let media = layer_media_type(opts.format)?;
    // Opened before a namespace the walk may enter, by absolute names
    // (the walk changes to -C).
    let layout = Layout::open(&image.dir)?;
    let mut run = opts.clone();
    run.archive = layout.layer_path();
    run.tar_format = TarFormat::Pax;
    let mut out = Output::open(&run.archive, run.format)?;
    let stream = layout::Running::default();
    out.tap = Some(stream.tap());
    let blob: Arc<Mutex<Option<(String, u64)>>> = Arc::default();
    let put = blob.clone();
    out.name_when_complete(Box::new(move |f| {
        let (hex, size) = layout::blob_digest(f)?;
        let name = hex.clone().into();
        *put.lock().unwrap_or_else(|p| p.into_inner()) = Some((hex, size));
        Ok(name)
    }))?;
    let watch = Watch { on_entry, progress };
    let (report, written) = super::run(&run, reg, watch, Some(out))?;
    let (hex, size) = blob
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .ok_or_else(|| layout.error("the layer was not written", None))?;
    let records = written.records.unwrap_or_default();
    let created = rfc3339(written.newest.unwrap_or_default());
    let config = layout.put(&config_json(&records, &stream.hex(), &created)?)?;
    let layer = Blob { media, hex, size };
    let manifest = layout.put(&manifest_json(&config, &layer)?)?;
    layout.tag(&manifest, &image.tag)?;
    Ok(report)
}

/// The media type of a layer compressed as `format`.
fn layer_media_type(format: OutFormat) -> Result<MediaType> {
    match format {
        OutFormat::Zstd(_) => Ok(MediaType::ImageLayerZstd),
        OutFormat::Gzip(_) => Ok(MediaType::ImageLayerGzip),
        OutFormat::Plain => Ok(MediaType::ImageLayer),
        OutFormat::Xz(_) | OutFormat::Bzip2(_) => Err(Error::usage(
            "an image layer is compressed with zstd (the default), gzip (-z) or not at all (--no-compress)",
        )),
    }
}

/// `t` as RFC 3339 wants it, in UTC, whole seconds.
fn rfc3339(t: Time) -> String {
    jiff::Timestamp::from_second(t.sec)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

/// The config's labels: the global header's records, `ALIENTAR.` read as
/// `org.alientar.`.
fn labels(records: &Records) -> std::collections::HashMap<String, String> {
    records
        .iter()
        .map(|(k, v)| {
            let k = k.strip_prefix("ALIENTAR.").unwrap_or(k);
            (format!("org.alientar.{k}"), v.clone())
        })
        .collect()
}

/// The image config: this machine's platform, the labels, the layer's
/// `diff_id` (hex) and one history entry, `created` at `created`.
fn config_json(records: &Records, diff_id: &str, created: &str) -> Result<Json> {
    let bad =
        |e: oci_spec::OciSpecError| Error::format(format!("cannot make the image config: {e}"));
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(vec![format!("sha256:{diff_id}")])
        .build()
        .map_err(bad)?;
    let history = HistoryBuilder::default()
        .created(created)
        .created_by(format!("alientar {} create", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(bad)?;
    let config = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(Arch::default())
        .os(Os::default())
        .config(
            ConfigBuilder::default()
                .labels(labels(records))
                .build()
                .map_err(bad)?,
        )
        .rootfs(rootfs)
        .history(vec![history])
        .build()
        .map_err(bad)?;
    Json::new(MediaType::ImageConfig, &config)
}

/// The manifest of the image with `config` and the one `layer`.
fn manifest_json(config: &Blob, layer: &Blob) -> Result<Json> {
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config.descriptor())
        .layers(vec![layer.descriptor()])
        .build()
        .map_err(|e| Error::format(format!("cannot make the image manifest: {e}")))?;
    Json::new(MediaType::ImageManifest, &manifest)
}
