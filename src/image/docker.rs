//! A docker-archive (what `podman save` and `docker save` write by
//! default): `manifest.json` names each image's config file and its layer
//! tars (`HEX.tar` or `ID/layer.tar`), in order.

use oci_spec::image::ImageConfiguration;
use serde::Deserialize;

use crate::error::{Error, Result};

use super::store::Store;
use super::{Layer, MAX_JSON, Resolved, config_parts};
use crate::digest::{Algorithm, Digest, shown};

/// One image of `manifest.json`.
#[derive(Deserialize)]
struct Item {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// The image `reference` names (a tag of `RepoTags`, or `@N`, counting
/// from 0, as skopeo has it), or the archive's only one.
///
/// # Errors
/// No manifest.json; no such image; several and none named; a config that
/// fails its digest; layers and diff_ids that do not pair up.
pub fn resolve(store: &Store, reference: Option<&str>) -> Result<Resolved> {
    let raw = store.read_small("manifest.json", MAX_JSON).map_err(|e| {
        Error::format(format!("not a docker-archive (its manifest.json: {e})"))
            .with_path(store.path())
    })?;
    let items: Vec<Item> =
        serde_json::from_slice(&raw).map_err(|e| bad(store, &format!("manifest.json: {e}")))?;
    let item = pick(store, &items, reference)?;
    let config_raw = store.read_small(&item.config, MAX_JSON)?;
    if let Some(want) = named_digest(&item.config) {
        let got = Digest::of(want.algorithm, &config_raw);
        if got != want {
            return Err(bad(
                store,
                &format!(
                    "the image config {} does not match its digest (its content is {got})",
                    shown(&item.config)
                ),
            ));
        }
    }
    let config: ImageConfiguration = serde_json::from_slice(&config_raw).map_err(|e| {
        bad(
            store,
            &format!("{} is not an image config: {e}", shown(&item.config)),
        )
    })?;
    let config_json = serde_json::from_slice(&config_raw)
        .map_err(|e| bad(store, &format!("{} is not JSON: {e}", shown(&item.config))))?;
    let (diff_ids, label) = config_parts(store, &config)?;
    if diff_ids.len() != item.layers.len() {
        return Err(bad(
            store,
            &format!(
                "manifest.json lists {} layers and the config {} diff_ids",
                item.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let layers = item
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(file, diff_id)| Layer {
            file: file.clone(),
            shown: shown(file),
            size: None,
            digest: None,
            diff_id,
            descriptor: None,
        })
        .collect();
    Ok(Resolved {
        layers,
        label,
        config: config_json,
        manifest: None,
    })
}

fn bad(store: &Store, what: &str) -> Error {
    Error::format(what.to_string()).with_path(store.path())
}

/// The image of `manifest.json` that `reference` names.
fn pick<'a>(store: &Store, items: &'a [Item], reference: Option<&str>) -> Result<&'a Item> {
    let tags = || {
        let all: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, it)| match it.repo_tags.as_deref() {
                Some([]) | None => format!("@{i}"),
                Some(t) => t.join(" "),
            })
            .collect();
        all.join(", ")
    };
    match reference {
        None if items.len() == 1 => Ok(&items[0]),
        None if items.is_empty() => Err(bad(store, "manifest.json lists no image")),
        None => Err(Error::usage(format!(
            "the archive holds several images: name one as docker-archive:FILE:REF ({})",
            tags()
        ))
        .with_path(store.path())),
        Some(r) => {
            let by_index = r
                .strip_prefix('@')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| items.get(n));
            by_index
                .or_else(|| {
                    items.iter().find(|it| {
                        it.repo_tags
                            .as_deref()
                            .is_some_and(|t| t.iter().any(|x| x == r))
                    })
                })
                .ok_or_else(|| {
                    bad(
                        store,
                        &format!("the archive has no image '{}' ({})", shown(r), tags()),
                    )
                })
        }
    }
}

/// The digest a config's file name carries (`HEX.json`, or
/// `blobs/sha256/HEX` in newer archives), if it carries one.
fn named_digest(name: &str) -> Option<Digest> {
    let base = name.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    Digest::parse(&format!("{}:{hex}", Algorithm::Sha256.name())).ok()
}
