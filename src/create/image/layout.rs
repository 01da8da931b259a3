//! The image layout on disk: blobs named by their sha256 digest, each
//! written under a temporary name first; `oci-layout`; and `index.json`,
//! replaced last, keeping the images of other tags.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use oci_spec::image::{Descriptor, MediaType, Platform, PlatformBuilder, Sha256Digest};
use serde_json::{Value, json};

use super::REF_NAME;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::sys::Dir;

/// The largest `index.json` or `oci-layout` read.
const MAX_JSON: u64 = 4 << 20;

/// What a temporary file of a run starts with; the run's process ID
/// follows (those of dead runs are removed).
const TMP_PREFIX: &str = ".alientar-tmp-";

/// A blob stored: what a descriptor says of it.
#[derive(Clone, Debug)]
pub(super) struct Blob {
    pub(super) media: MediaType,
    /// The sha256 digest, in hex.
    pub(super) hex: String,
    pub(super) size: u64,
}

impl Blob {
    /// Its descriptor.
    pub(super) fn descriptor(&self) -> Descriptor {
        let digest: Sha256Digest = self.hex.parse().expect("a sha256 digest made here");
        Descriptor::new(self.media.clone(), self.size, digest)
    }
}

/// A JSON document to store as a blob.
pub(super) struct Json {
    media: MediaType,
    pub(super) bytes: Vec<u8>,
}

impl Json {
    /// `doc` as compact JSON with its object keys sorted, whatever order
    /// its maps iterate in: the same document, the same digest.
    ///
    /// # Errors
    /// `doc` cannot be serialized.
    pub(super) fn new(media: MediaType, doc: &impl serde::Serialize) -> Result<Json> {
        let bad = |e: serde_json::Error| Error::format(format!("cannot write {media}: {e}"));
        let value = serde_json::to_value(doc).map_err(bad)?;
        let bytes = serde_json::to_vec(&value).map_err(bad)?;
        Ok(Json { media, bytes })
    }
}

/// A blob [`Layout::copy_blob`] stored.
pub(super) struct Copied {
    /// Its sha256 digest, in hex.
    pub(super) hex: String,
    pub(super) size: u64,
    /// Its digest by the other algorithm asked for.
    pub(super) also: Digest,
    /// Its first bytes (up to 16).
    pub(super) head: Vec<u8>,
}

/// An image layout being written.
pub(super) struct Layout {
    /// Its directory, absolute.
    path: PathBuf,
    root: Dir,
    blobs: Dir,
}

impl Layout {
    /// The layout at `dir`: made when missing or empty (an empty layout,
    /// as `umoci init` makes, so that a run that fails leaves one); else it
    /// must be one (hold `oci-layout`).
    ///
    /// # Errors
    /// A directory that is not empty and holds no `oci-layout`, one that
    /// cannot be made or opened.
    pub(super) fn open(dir: &Path) -> Result<Layout> {
        let path = std::path::absolute(dir).map_err(|e| Error::io("cannot find", dir, e))?;
        let fail = |what: &str, e: io::Error| Error::io(what, &path, e);
        std::fs::create_dir_all(&path).map_err(|e| fail("cannot create the image layout", e))?;
        let root = Dir::open(&path).map_err(|e| fail("cannot open the image layout", e))?;
        let new = match read_small(&root, "oci-layout") {
            Ok(raw) => {
                check_oci_layout(&raw).map_err(|m| {
                    Error::format(format!("its oci-layout file {m}")).with_path(&path)
                })?;
                false
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let names = root.names().map_err(|e| fail("cannot read", e))?;
                if !names.is_empty() {
                    return Err(Error::usage(format!(
                        "{}: not an OCI image layout (it has no oci-layout file) and not empty; \
                         --oci writes into a new or empty directory or an image layout",
                        path.display()
                    )));
                }
                true
            }
            Err(e) => return Err(fail("cannot read the oci-layout file of", e)),
        };
        for d in [&b"blobs"[..], b"blobs/sha256"] {
            match root.mkdir(d, 0o755) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(fail("cannot create blobs/sha256 in", e));
                }
                _ => {}
            }
        }
        let blobs = root
            .open_dir_beneath(b"blobs/sha256")
            .ok()
            .flatten()
            .ok_or_else(|| {
                fail(
                    "cannot open blobs/sha256 in",
                    io::ErrorKind::NotFound.into(),
                )
            })?;
        for d in [&root, &blobs] {
            d.remove_stale_files(TMP_PREFIX.as_bytes());
        }
        if new {
            let index = serde_json::to_vec(&empty_index()).expect("a JSON value");
            replace(&root, "index.json", &index)
                .and_then(|()| replace(&root, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#))
                .map_err(|e| fail("cannot create the image layout", e))?;
        }
        Ok(Layout { path, root, blobs })
    }

    /// Where the layer is written before it is named by its digest.
    pub(super) fn layer_path(&self) -> PathBuf {
        self.path.join("blobs/sha256/.alientar-layer")
    }

    /// An error about the layout.
    pub(super) fn error(&self, what: &str, e: Option<io::Error>) -> Error {
        Error::io(
            what,
            &self.path,
            e.unwrap_or_else(|| io::Error::other(what)),
        )
    }

    /// Store `j` as a blob.
    ///
    /// # Errors
    /// A write error.
    pub(super) fn put(&self, j: &Json) -> Result<Blob> {
        let hex = Digest::of(Algorithm::Sha256, &j.bytes).hex;
        replace(&self.blobs, &hex, &j.bytes)
            .map_err(|e| self.error("cannot write a blob into", Some(e)))?;
        Ok(Blob {
            media: j.media.clone(),
            hex,
            size: j.bytes.len() as u64,
        })
    }

    /// Is the blob `hex` in the layout, whole (its content hashes to it)?
    pub(super) fn has_blob(&self, hex: &str) -> bool {
        self.blobs
            .open_regular(hex.as_bytes())
            .and_then(|f| blob_digest(&f))
            .is_ok_and(|(h, _)| h == hex)
    }

    /// Store the blob `r` reads (copied into a temporary, renamed to its
    /// digest once complete): its sha256 digest (hex), its size, its
    /// digest by `also` too, and its first bytes.
    ///
    /// # Errors
    /// A read or write error.
    pub(super) fn copy_blob(&self, r: &mut dyn Read, also: Algorithm) -> Result<Copied> {
        let tmp = format!("{TMP_PREFIX}{}", std::process::id());
        let werr = |e: io::Error| self.error("cannot copy a blob into", Some(e));
        let mut f = self
            .blobs
            .create_file(tmp.as_bytes(), 0o666)
            .map_err(werr)?;
        let (mut sha256, mut other) = (Hasher::new(Algorithm::Sha256), Hasher::new(also));
        let mut head = Vec::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        let copied = loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            };
            if head.len() < 16 {
                head.extend_from_slice(&buf[..n.min(16 - head.len())]);
            }
            sha256.update(&buf[..n]);
            other.update(&buf[..n]);
            size += n as u64;
            if let Err(e) = f.write_all(&buf[..n]) {
                break Err(e);
            }
        };
        let hex = sha256.finish().hex;
        let done = copied.and_then(|()| self.blobs.rename(tmp.as_bytes(), hex.as_bytes()));
        if let Err(e) = done {
            let _ = self.blobs.unlink(tmp.as_bytes(), false);
            return Err(werr(e));
        }
        Ok(Copied {
            hex,
            size,
            also: other.finish(),
            head,
        })
    }

    /// Tag `manifest` as `tag` in `index.json` (an image of that tag is
    /// replaced where it stood; the others stay).
    ///
    /// # Errors
    /// An `index.json` that is not an image index; a write error.
    pub(super) fn tag(&self, manifest: &Blob, tag: &str) -> Result<()> {
        let werr = |e: io::Error| self.error("cannot write the image layout", Some(e));
        let index = match read_small(&self.root, "index.json") {
            Ok(raw) => Some(serde_json::from_slice::<Value>(&raw).map_err(|e| {
                Error::format(format!("its index.json is not JSON: {e}")).with_path(&self.path)
            })?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(werr(e)),
        };
        let mut desc = manifest.descriptor();
        desc.set_annotations(Some([(REF_NAME.to_string(), tag.to_string())].into()));
        desc.set_platform(Some(this_platform()));
        let desc = serde_json::to_value(&desc)
            .map_err(|e| Error::format(format!("cannot write the index: {e}")))?;
        let index = tagged(index, desc, tag)
            .map_err(|m| Error::format(format!("its index.json {m}")).with_path(&self.path))?;
        let bytes = serde_json::to_vec(&index).expect("a JSON value");
        replace(&self.root, "index.json", &bytes).map_err(werr)
    }
}

/// The platform alientar runs on.
fn this_platform() -> Platform {
    PlatformBuilder::default()
        .architecture(oci_spec::image::Arch::default())
        .os(oci_spec::image::Os::default())
        .build()
        .expect("architecture and os given")
}

/// `index` (a new one if `None`) with `desc` tagged `tag`: in the place of
/// the first manifest of that tag (others of it removed), else last.
fn tagged(index: Option<Value>, desc: Value, tag: &str) -> std::result::Result<Value, String> {
    let mut index = index.unwrap_or_else(empty_index);
    let obj = index.as_object_mut().ok_or("is not a JSON object")?;
    let list = obj
        .entry("manifests")
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or("has a 'manifests' that is not a list")?;
    let is_tag = |m: &Value| m.pointer(&format!("/annotations/{REF_NAME}")) == Some(&json!(tag));
    match list.iter().position(is_tag) {
        Some(at) => {
            list[at] = desc;
            let mut i = 0;
            list.retain(|m| {
                i += 1;
                i - 1 == at || !is_tag(m)
            });
        }
        None => list.push(desc),
    }
    Ok(index)
}

/// An image index without images.
fn empty_index() -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [],
    })
}

/// Is `raw` an `oci-layout` file? What is wrong with it, if not.
fn check_oci_layout(raw: &[u8]) -> std::result::Result<(), String> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| format!("is not JSON: {e}"))?;
    match v.get("imageLayoutVersion") {
        Some(Value::String(_)) => Ok(()),
        _ => Err("has no imageLayoutVersion".into()),
    }
}

/// The file `name` in `dir`, at most [`MAX_JSON`] bytes of it.
fn read_small(dir: &Dir, name: &str) -> io::Result<Vec<u8>> {
    let f = dir.open_file(name.as_bytes())?;
    let mut raw = Vec::new();
    f.take(MAX_JSON + 1).read_to_end(&mut raw)?;
    if raw.len() as u64 > MAX_JSON {
        return Err(io::Error::other(format!("{name} is over {MAX_JSON} bytes")));
    }
    Ok(raw)
}

/// Write `bytes` as `name` in `dir`: into a temporary, renamed over `name`
/// once complete.
fn replace(dir: &Dir, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = format!("{TMP_PREFIX}{}", std::process::id());
    match dir.unlink(tmp.as_bytes(), false) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let written = dir
        .create_file(tmp.as_bytes(), 0o666)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| dir.rename(tmp.as_bytes(), name.as_bytes()));
    if written.is_err() {
        let _ = dir.unlink(tmp.as_bytes(), false);
    }
    written
}

/// The sha256 digest (hex) and size of the complete blob `f`, read by
/// position.
pub(super) fn blob_digest(f: &File) -> io::Result<(String, u64)> {
    let size = f.metadata()?.len();
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < size {
        let n = f.read_at(&mut buf, at)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok((h.finish().hex, size))
}

/// The sha256 digest of a stream taken as it passes (the tar stream of a
/// layer, the diff_id), read once it has passed.
#[derive(Clone)]
pub(super) struct Running(Arc<Mutex<Hasher>>);

impl Default for Running {
    fn default() -> Running {
        Running(Arc::new(Mutex::new(Hasher::new(Algorithm::Sha256))))
    }
}

impl Running {
    /// What the stream is shown to.
    pub(super) fn tap(&self) -> crate::frame::Tap {
        let me = self.clone();
        Box::new(move |b| me.0.lock().unwrap_or_else(|p| p.into_inner()).update(b))
    }

    /// The digest of what passed, in hex (once: the digest starts again).
    pub(super) fn hex(&self) -> String {
        let mut h = self.0.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *h, Hasher::new(Algorithm::Sha256))
            .finish()
            .hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(n: u32, tag: Option<&str>) -> Value {
        match tag {
            Some(t) => json!({ "n": n, "annotations": { REF_NAME: t } }),
            None => json!({ "n": n }),
        }
    }

    /// A tag replaces its image where it stood; other tags and untagged
    /// manifests stay, in order; a new tag goes last.
    #[test]
    fn tagging_keeps_other_images() {
        let fresh = tagged(None, desc(1, Some("a")), "a").unwrap();
        assert_eq!(fresh["schemaVersion"], 2);
        assert_eq!(fresh["manifests"], json!([desc(1, Some("a"))]));
        let old = json!({
            "schemaVersion": 2,
            "annotations": { "x": "kept" },
            "manifests": [desc(1, Some("a")), desc(2, None), desc(3, Some("b")), desc(4, Some("a"))],
        });
        let new = tagged(Some(old.clone()), desc(5, Some("a")), "a").unwrap();
        assert_eq!(
            new["manifests"],
            json!([desc(5, Some("a")), desc(2, None), desc(3, Some("b"))])
        );
        assert_eq!(new["annotations"]["x"], "kept");
        let more = tagged(Some(old), desc(6, Some("c")), "c").unwrap();
        assert_eq!(more["manifests"].as_array().unwrap().len(), 5);
        assert_eq!(more["manifests"][4], desc(6, Some("c")));
        assert!(tagged(Some(json!([1])), desc(1, None), "a").is_err());
        assert!(tagged(Some(json!({ "manifests": 3 })), desc(1, None), "a").is_err());
    }

    #[test]
    fn json_blobs_do_not_depend_on_map_order() {
        let a: std::collections::HashMap<String, u32> =
            (0..50).map(|i| (format!("k{i}"), i)).collect();
        let b: std::collections::HashMap<String, u32> =
            (0..50).rev().map(|i| (format!("k{i}"), i)).collect();
        let ja = Json::new(MediaType::ImageConfig, &a).unwrap();
        let jb = Json::new(MediaType::ImageConfig, &b).unwrap();
        assert_eq!(ja.bytes, jb.bytes);
        assert!(ja.bytes.starts_with(br#"{"k0":0,"k1":1,"k10":10"#));
    }
}
