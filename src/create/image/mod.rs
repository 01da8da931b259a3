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
//!
//! With a base (`--base IMAGE`, [`base`]) the image is the base's layers
//! (their blobs shared with the layout or copied into it) and one more:
//! what differs between the base's final view and the tree ([`delta`]).
//! Its config is the base's, extended: the diff_id and a history entry
//! appended, the labels replaced by this run's, `created` the later of
//! the base's and the newest time stored.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, HistoryBuilder, ImageConfigurationBuilder,
    ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use serde_json::{Value, json};

use super::members::{Member, Members, Records};
use super::{CreateOptions, Env, Watch};
use crate::context::Registry;
use crate::entry::Time;
use crate::error::{Error, Result};
use crate::output::{OutFormat, Output};
use crate::report::Report;
use crate::tar::format::TarFormat;
use crate::walk::WalkedFile;

mod base;
mod delta;
mod layout;

pub(super) use base::Base;
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
    /// The image to build on (`oci:DIR:TAG`, `oci-archive:FILE[:TAG]`,
    /// `docker-archive:FILE[:REF]`): its layers, and one more with what
    /// differs from it.
    pub base: Option<PathBuf>,
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
            base: None,
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
/// used): one layer (on a base, the base's layers and one with what
/// differs from it), its config and manifest, tagged in the layout's
/// index. Otherwise as [`super::create()`].
///
/// # Errors
/// As [`super::create()`]; a directory that is neither empty nor an
/// image layout, a bad tag, a compression an image layer cannot have, a
/// layout that cannot be written; a base that cannot be read, fails its
/// digests, is for another platform or in another context.
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
    // Before the layout is touched: a base that is not there, lacks the
    // tag or is for another platform leaves it as it was.
    let base = image.base.as_deref().map(Base::open).transpose()?;
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
    let (report, mut written) = super::run(&run, reg, watch, Some(out), base)?;
    // The base's blobs join the layout once the layer is written: a run
    // that fails copies none.
    let below = match written.base.take() {
        Some(b) => Some(Below {
            layers: base::adopt_layers(&b, &layout)?,
            config: b.config().clone(),
            manifest: b.manifest_digest().map(ToString::to_string),
        }),
        None => None,
    };
    let (hex, size) = blob
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .ok_or_else(|| layout.error("the layer was not written", None))?;
    let records = written.records.unwrap_or_default();
    let newest = written.newest.unwrap_or_default();
    let layer = Blob { media, hex, size };
    let (config, layers, annotations) = match below {
        None => {
            let created = rfc3339(newest);
            let config = config_json(&records, &stream.hex(), &created)?;
            (config, vec![layer.descriptor()], None)
        }
        Some(b) => {
            let config = extended_config(b.config, &records, &stream.hex(), newest)?;
            let mut layers = b.layers;
            layers.push(layer.descriptor());
            let base_digest = b
                .manifest
                .map(|d| [(BASE_DIGEST.to_string(), d)].into_iter().collect());
            (config, layers, base_digest)
        }
    };
    let config = layout.put(&config)?;
    let manifest = layout.put(&manifest_json(&config, layers, annotations)?)?;
    layout.tag(&manifest, &image.tag)?;
    Ok(report)
}

/// The annotation of a manifest that names the manifest of its base image.
const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// What an image built on a base takes from it.
struct Below {
    /// The base's layers, in the layout.
    layers: Vec<Descriptor>,
    config: Value,
    /// The digest of the base's manifest, if it has one.
    manifest: Option<String>,
}

/// Write the layer of `files` (translated, in archive order) over the base
/// image `base`: the members that differ from its final view, and
/// whiteouts for what the tree no longer has.
///
/// The base image is handed back.
///
/// # Errors
/// The base's layers cannot be read again; a write error.
pub(super) fn write_on_base(
    base: base::Loaded,
    files: Vec<WalkedFile>,
    env: &Env,
    (members, watch, report): (&mut Members, &mut Watch, &mut Report),
) -> Result<crate::image::Image> {
    let formed: Vec<Member> = files.into_iter().map(|s| members.form(s)).collect();
    let mut base = base;
    let entries = std::mem::take(&mut base.entries);
    let (image, differ) = base.differing(delta::undecided(&entries, &formed))?;
    let opts = env.opts;
    let excluded = |n: &[u8]| crate::walk::excluded(&opts.select, &opts.paths, n);
    let d = delta::plan(&entries, &formed, &differ, &excluded);
    drop(entries);
    let label = env.labels.archive.as_deref();
    delta::write(d, formed, label, (members, watch, report))?;
    Ok(image)
}

/// The config of an image on a base whose config is `base`: the base's,
/// with this run's labels in place of its `org.alientar.*` ones, the new
/// layer's `diff_id` (hex) and a history entry appended, and `created` the
/// later of the base's and `newest`.
fn extended_config(
    mut base: Value,
    records: &Records,
    diff_id: &str,
    newest: Time,
) -> Result<Json> {
    let bad = |what: &str| Error::format(format!("the base image's config: {what}"));
    let ours = jiff::Timestamp::from_second(newest.sec).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let theirs = base
        .get("created")
        .and_then(Value::as_str)
        .and_then(|c| c.parse::<jiff::Timestamp>().ok());
    let created = theirs.map_or(ours, |t| t.max(ours)).to_string();
    let doc = base
        .as_object_mut()
        .ok_or_else(|| bad("not a JSON object"))?;
    doc.insert("created".into(), json!(created));
    let config = object_at(doc, "config").ok_or_else(|| bad("its 'config' is not an object"))?;
    let labels =
        object_at(config, "Labels").ok_or_else(|| bad("its 'config.Labels' is not an object"))?;
    labels.retain(|k, _| !k.starts_with("org.alientar."));
    labels.extend(labels_of(records).into_iter().map(|(k, v)| (k, json!(v))));
    let diff_ids = doc
        .get_mut("rootfs")
        .and_then(|r| r.get_mut("diff_ids"))
        .and_then(Value::as_array_mut)
        .ok_or_else(|| bad("no rootfs.diff_ids"))?;
    diff_ids.push(json!(format!("sha256:{diff_id}")));
    let history = doc.entry("history").or_insert_with(|| json!([]));
    if history.is_null() {
        *history = json!([]);
    }
    history
        .as_array_mut()
        .ok_or_else(|| bad("its 'history' is not a list"))?
        .push(json!({ "created": created, "created_by": created_by() }));
    Json::new(MediaType::ImageConfig, &base)
}

/// The object `doc[key]`, made when missing or null; `None` when it is
/// something else.
fn object_at<'a>(
    doc: &'a mut serde_json::Map<String, Value>,
    key: &str,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    let v = doc.entry(key).or_insert(Value::Null);
    if v.is_null() {
        *v = json!({});
    }
    v.as_object_mut()
}

/// The history entry's `created_by`.
fn created_by() -> String {
    format!("alientar {} create", env!("CARGO_PKG_VERSION"))
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
fn labels_of(records: &Records) -> std::collections::HashMap<String, String> {
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
        .created_by(created_by())
        .build()
        .map_err(bad)?;
    let config = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(Arch::default())
        .os(Os::default())
        .config(
            ConfigBuilder::default()
                .labels(labels_of(records))
                .build()
                .map_err(bad)?,
        )
        .rootfs(rootfs)
        .history(vec![history])
        .build()
        .map_err(bad)?;
    Json::new(MediaType::ImageConfig, &config)
}

/// The manifest of the image with `config` and `layers`, annotated with
/// `annotations` if given.
fn manifest_json(
    config: &Blob,
    layers: Vec<Descriptor>,
    annotations: Option<std::collections::HashMap<String, String>>,
) -> Result<Json> {
    let mut b = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config.descriptor())
        .layers(layers);
    if let Some(a) = annotations {
        b = b.annotations(a);
    }
    let manifest = b
        .build()
        .map_err(|e| Error::format(format!("cannot make the image manifest: {e}")))?;
    Json::new(MediaType::ImageManifest, &manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_config_is_extended_and_kept() {
        let base = json!({
            "created": "2030-01-01T00:00:00Z",
            "architecture": "amd64",
            "os": "linux",
            "config": { "Env": ["A=1"], "Labels": { "org.alientar.context": "old", "x": "y" } },
            "rootfs": { "type": "layers", "diff_ids": ["sha256:aa"] },
            "docker_version": "kept",
        });
        let records = vec![("ALIENTAR.version".to_string(), "1".to_string())];
        let j = extended_config(base, &records, "bb", Time { sec: 1, nsec: 0 }).unwrap();
        let v: Value = serde_json::from_slice(&j.bytes).unwrap();
        assert_eq!(v["created"], "2030-01-01T00:00:00Z");
        assert_eq!(v["config"]["Env"][0], "A=1");
        assert_eq!(
            v["config"]["Labels"],
            json!({ "x": "y", "org.alientar.version": "1" })
        );
        assert_eq!(v["rootfs"]["diff_ids"], json!(["sha256:aa", "sha256:bb"]));
        assert_eq!(v["history"][0]["created_by"], created_by());
        assert_eq!(v["docker_version"], "kept");
        let bare = json!({ "config": null, "rootfs": { "diff_ids": [] } });
        let j = extended_config(
            bare,
            &records,
            "cc",
            Time {
                sec: 1_700_000_000,
                nsec: 0,
            },
        );
        let v: Value = serde_json::from_slice(&j.unwrap().bytes).unwrap();
        assert_eq!(v["created"], "2023-11-14T22:13:20Z");
        assert_eq!(v["config"]["Labels"]["org.alientar.version"], "1");
    }
}
