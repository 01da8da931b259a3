//! An OCI image layout (`oci-layout`, `index.json`, `blobs/`): the
//! manifest a tag names (an index's platform this machine runs), its
//! config and its layers, each JSON document verified against its
//! descriptor before it is parsed.

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};

use crate::error::{Error, Result};

use super::store::Store;
use super::{Layer, MAX_JSON, Resolved, config_parts};
use crate::digest::{Digest, shown};

/// The annotation that tags a manifest in `index.json`.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// How deep indexes may nest (an index of platforms inside the layout's).
const MAX_DEPTH: usize = 4;

/// The manifest `tag` names in the layout (or its only one), its config
/// and its layers.
///
/// # Errors
/// Not a layout; no such tag, several images and no tag; no manifest for
/// this platform; a document that is too big, fails its digest, or is not
/// what it should be.
pub fn resolve(store: &Store, tag: Option<&str>) -> Result<Resolved> {
    let layout = store.read_small("oci-layout", 4096).map_err(|e| {
        Error::format(format!(
            "not an OCI image layout (its oci-layout file: {e})"
        ))
        .with_path(store.path())
    })?;
    if serde_json::from_slice::<serde_json::Value>(&layout)
        .ok()
        .and_then(|v| v.get("imageLayoutVersion").cloned())
        .is_none()
    {
        return Err(bad(store, "oci-layout has no imageLayoutVersion"));
    }
    let raw = store.read_small("index.json", MAX_JSON)?;
    let index: ImageIndex = serde_json::from_slice(&raw)
        .map_err(|e| bad(store, &format!("index.json is not an image index: {e}")))?;
    let desc = by_tag(store, index.manifests(), tag)?;
    let (manifest, manifest_digest) = manifest_of(store, desc, 0)?;
    let config_desc = manifest.config();
    let raw = verified_json(store, config_desc, "the image config")?;
    let config: ImageConfiguration = parse_json(store, config_desc, &raw, "the image config")?;
    let config_json = parse_json(store, config_desc, &raw, "the image config")?;
    let (diff_ids, label) = config_parts(store, &config)?;
    if diff_ids.len() != manifest.layers().len() {
        return Err(bad(
            store,
            &format!(
                "the manifest lists {} layers and its config {} diff_ids",
                manifest.layers().len(),
                diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::with_capacity(diff_ids.len());
    for (d, diff_id) in manifest.layers().iter().zip(diff_ids) {
        let digest = descriptor_digest(store, d)?;
        layer_media_type(store, d)?;
        layers.push(Layer {
            file: format!("blobs/{}/{}", digest.algorithm.name(), digest.hex),
            shown: digest.to_string(),
            size: Some(d.size()),
            digest: Some(digest),
            diff_id,
            descriptor: Some(d.clone()),
        });
    }
    Ok(Resolved {
        layers,
        label,
        config: config_json,
        manifest: Some(manifest_digest),
    })
}

fn bad(store: &Store, what: &str) -> Error {
    Error::format(what.to_string()).with_path(store.path())
}

/// The descriptor `tag` names; without a tag, the only image of the layout.
fn by_tag<'a>(store: &Store, all: &'a [Descriptor], tag: Option<&str>) -> Result<&'a Descriptor> {
    let tag_of = |d: &Descriptor| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .cloned()
    };
    let mut tags: Vec<String> = all.iter().filter_map(tag_of).collect();
    tags.sort();
    tags.dedup();
    let listed = || {
        if tags.is_empty() {
            "it tags none".to_string()
        } else {
            format!("its tags: {}", tags.join(", "))
        }
    };
    let candidates: Vec<&Descriptor> = match tag {
        Some(t) => all
            .iter()
            .filter(|d| tag_of(d).as_deref() == Some(t))
            .collect(),
        None => all.iter().collect(),
    };
    match (candidates.len(), tag) {
        (0, Some(t)) => Err(bad(
            store,
            &format!(
                "the layout has no image tagged '{}' ({})",
                shown(t),
                listed()
            ),
        )),
        (0, None) => Err(bad(store, "the layout's index.json lists no image")),
        (1, _) => Ok(candidates[0]),
        (_, None) if tags.len() > 1 => Err(Error::usage(format!(
            "the layout holds several images: name one as oci:DIR:TAG ({})",
            listed()
        ))
        .with_path(store.path())),
        _ => by_platform(store, &candidates),
    }
}

/// This machine's platform as the image-spec names it (Go's GOOS/GOARCH).
fn this_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    };
    ("linux", arch)
}

/// The one descriptor for this machine's platform.
fn by_platform<'a>(store: &Store, candidates: &[&'a Descriptor]) -> Result<&'a Descriptor> {
    let (os, arch) = this_platform();
    let name = |d: &Descriptor| match d.platform() {
        Some(p) => {
            format!("{}/{}", p.os(), p.architecture())
                + &p.variant()
                    .as_ref()
                    .map(|v| format!("/{v}"))
                    .unwrap_or_default()
        }
        None => format!("{} (no platform)", d.digest()),
    };
    let fits: Vec<&&Descriptor> = candidates
        .iter()
        .filter(|d| {
            d.platform()
                .as_ref()
                .is_some_and(|p| p.os().to_string() == os && p.architecture().to_string() == arch)
        })
        .collect();
    match fits.first() {
        // Several variants of this platform: the first, as the index
        // orders them by preference.
        Some(d) => Ok(d),
        None => Err(bad(
            store,
            &format!(
                "no image for this machine's platform {os}/{arch}; the index has {}",
                candidates
                    .iter()
                    .map(|d| name(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The image manifest `desc` leads to, through nested indexes, and its
/// digest.
fn manifest_of(store: &Store, desc: &Descriptor, depth: usize) -> Result<(ImageManifest, Digest)> {
    let raw = verified_json(store, desc, "a manifest")?;
    let v: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|e| bad(store, &format!("manifest {}: {e}", desc.digest())))?;
    let is_index = matches!(desc.media_type(), MediaType::ImageIndex)
        || desc.media_type().to_string()
            == "application/vnd.docker.distribution.manifest.list.v2+json"
        || v.get("manifests").is_some();
    if !is_index {
        let m = serde_json::from_value(v)
            .map_err(|e| bad(store, &format!("manifest {}: {e}", desc.digest())))?;
        return Ok((m, descriptor_digest(store, desc)?));
    }
    if depth >= MAX_DEPTH {
        return Err(bad(
            store,
            &format!("image indexes nest more than {MAX_DEPTH} deep"),
        ));
    }
    let index: ImageIndex = serde_json::from_value(v)
        .map_err(|e| bad(store, &format!("index {}: {e}", desc.digest())))?;
    let all: Vec<&Descriptor> = index.manifests().iter().collect();
    let next = match all.len() {
        0 => return Err(bad(store, &format!("index {} is empty", desc.digest()))),
        1 => all[0],
        _ => by_platform(store, &all)?,
    };
    manifest_of(store, next, depth + 1)
}

/// The JSON document `raw`, the blob of `desc`, parsed (after it passed
/// its size and digest).
fn parse_json<T: serde::de::DeserializeOwned>(
    store: &Store,
    desc: &Descriptor,
    raw: &[u8],
    what: &str,
) -> Result<T> {
    serde_json::from_slice(raw)
        .map_err(|e| bad(store, &format!("{what} {} is not one: {e}", desc.digest())))
}

/// The bytes of a JSON document's blob, checked against its descriptor's
/// size (at most [`MAX_JSON`]) and digest.
fn verified_json(store: &Store, desc: &Descriptor, what: &str) -> Result<Vec<u8>> {
    let digest = descriptor_digest(store, desc)?;
    if desc.size() > MAX_JSON {
        return Err(bad(
            store,
            &format!(
                "{what} {digest} is said to hold {} bytes; alientar reads at most {MAX_JSON}",
                desc.size()
            ),
        ));
    }
    let raw = store.read_small(
        &format!("blobs/{}/{}", digest.algorithm.name(), digest.hex),
        MAX_JSON,
    )?;
    if raw.len() as u64 != desc.size() {
        return Err(bad(
            store,
            &format!(
                "{what} {digest} holds {} bytes, not the {} its descriptor says",
                raw.len(),
                desc.size()
            ),
        ));
    }
    let got = Digest::of(digest.algorithm, &raw);
    if got != digest {
        return Err(bad(
            store,
            &format!("{what} {digest} does not match its digest (its content is {got})"),
        ));
    }
    Ok(raw)
}

/// A descriptor's digest, checked.
fn descriptor_digest(store: &Store, d: &Descriptor) -> Result<Digest> {
    Digest::parse(d.digest().as_ref()).map_err(|e| e.with_path(store.path()))
}

/// Layers are tar streams, plain or compressed (the compression is read
/// from the bytes); anything else (an encrypted layer, an artifact) is
/// refused by name.
fn layer_media_type(store: &Store, d: &Descriptor) -> Result<()> {
    let t = d.media_type().to_string();
    let known = [
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
    ];
    let base = t.split('+').next().unwrap_or("");
    let suffix_ok = matches!(t.split_once('+').map(|x| x.1), None | Some("gzip" | "zstd"));
    if (known.contains(&base) && suffix_ok)
        || t == "application/vnd.docker.image.rootfs.diff.tar.gzip"
        || t == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    {
        return Ok(());
    }
    Err(bad(
        store,
        &format!(
            "layer {} has media type '{}', which alientar does not read",
            d.digest(),
            shown(&t)
        ),
    ))
}
