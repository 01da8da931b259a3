//! Sparse members: the GNU sparse records and maps (old GNU `S` headers,
//! pax sparse 0.0, 0.1 and 1.0), checked, and the position in a sparse
//! member's data.

use super::read::MAX_SPARSE_ENTRIES;
use super::{keys, pax};

/// Where a read stands in a sparse member's data.
pub(super) struct Sparse {
    /// (offset, length) segments of real data, sorted, within `size`.
    pub(super) segments: Vec<(u64, u64)>,
    /// Index of the segment being read or next to read.
    pub(super) idx: usize,
    /// Logical position.
    pub(super) pos: u64,
    /// Logical size.
    pub(super) size: u64,
}

impl Sparse {
    /// Where the next segment starts (the end of the file after the last).
    pub(super) fn next_start(&self) -> u64 {
        self.segments.get(self.idx).map_or(self.size, |s| s.0)
    }
}

/// What a member's GNU sparse header or pax records say.
#[derive(Default)]
pub(super) struct SparseRecords {
    /// (offset, length) of the data segments, checked by [`segments`].
    pub(super) map: Option<Vec<(i64, i64)>>,
    /// The file's real size.
    pub(super) real: Option<i64>,
    /// GNU sparse 0.0: offsets and lengths, paired once all are read.
    offsets: Vec<i64>,
    lengths: Vec<i64>,
    major: Option<Vec<u8>>,
    name: Option<Vec<u8>>,
}

impl SparseRecords {
    /// GNU sparse 1.0: the map is at the start of the member's data.
    pub(super) fn map_in_data(&self) -> bool {
        self.major.as_deref() == Some(b"1")
    }

    /// Apply a pax record; false when `k` is not a sparse record.
    ///
    /// # Errors
    /// A value that is not what the key needs, or a map too long.
    pub(super) fn apply(&mut self, k: &str, v: &[u8]) -> Result<bool, String> {
        let number = |what: &str| {
            pax::parse_u64(v)
                .and_then(|s| i64::try_from(s).ok())
                .ok_or_else(|| pax::invalid(k, v, what))
        };
        match k {
            keys::GNU_SPARSE_SIZE | keys::GNU_SPARSE_REALSIZE => {
                self.real = Some(number("sparse size")?);
            }
            keys::GNU_SPARSE_MAJOR => self.major = Some(v.to_vec()),
            keys::GNU_SPARSE_NAME => self.name = Some(v.to_vec()),
            keys::GNU_SPARSE_OFFSET | keys::GNU_SPARSE_NUMBYTES => {
                let n = number("sparse number")?;
                if k == keys::GNU_SPARSE_OFFSET {
                    self.offsets.push(n);
                } else {
                    self.lengths.push(n);
                }
                if self.offsets.len().max(self.lengths.len()) > MAX_SPARSE_ENTRIES {
                    return Err("sparse map too long".into());
                }
            }
            keys::GNU_SPARSE_MAP => {
                let map = parse_map(v).ok_or_else(|| pax::invalid(k, v, "sparse map"))?;
                self.map = Some(map);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Once every record is applied: pair GNU sparse 0.0 offsets with
    /// lengths. Returns the member's real name when it is a sparse one.
    ///
    /// # Errors
    /// Offsets and lengths that do not pair up.
    pub(super) fn settle(&mut self) -> Result<Option<Vec<u8>>, String> {
        if !self.offsets.is_empty() || !self.lengths.is_empty() {
            if self.offsets.len() != self.lengths.len() {
                return Err("GNU sparse 0.0 offsets and lengths do not pair up".into());
            }
            let offsets = std::mem::take(&mut self.offsets);
            self.map = Some(offsets.into_iter().zip(self.lengths.drain(..)).collect());
        }
        let sparse = self.map.is_some() || self.map_in_data();
        Ok(self.name.take().filter(|_| sparse))
    }
}

/// A `GNU.sparse.map` value: `offset,length,...` (empty items ignored).
fn parse_map(v: &[u8]) -> Option<Vec<(i64, i64)>> {
    let s = std::str::from_utf8(v).ok()?;
    let nums: Vec<i64> = s
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u64>().ok().and_then(|n| i64::try_from(n).ok()))
        .collect::<Option<_>>()?;
    if !nums.len().is_multiple_of(2) || nums.len() / 2 > MAX_SPARSE_ENTRIES {
        return None;
    }
    Some(nums.chunks(2).map(|c| (c[0], c[1])).collect())
}

/// Check a sparse map against the file's real size and the `held` bytes
/// of data the member holds (data past what the map uses is skipped, as
/// libarchive does: libarchive/test_read_format_gtar_sparse_skip_entry).
///
/// # Errors
/// Negative, overlapping or out-of-order segments, segments past the end,
/// or more data than the member holds.
pub(super) fn segments(map: Vec<(i64, i64)>, real: i64, held: u64) -> Result<Sparse, String> {
    if real < 0 {
        return Err("negative sparse size".into());
    }
    let real = real as u64;
    let mut segs = Vec::with_capacity(map.len());
    let mut end = 0u64;
    let mut stored = 0u64;
    for (off, len) in map {
        if off < 0 || len < 0 {
            return Err("negative offset or length in the sparse map".into());
        }
        let (off, len) = (off as u64, len as u64);
        let stop = off.checked_add(len).filter(|&s| s <= real);
        let Some(stop) = stop else {
            return Err("sparse map entry runs past the end of the file".into());
        };
        if off < end {
            return Err("sparse map entries overlap or are out of order".into());
        }
        end = stop;
        stored += len;
        if len > 0 {
            segs.push((off, len));
        }
    }
    if stored > held {
        return Err(format!(
            "sparse map describes {stored} bytes of data but the member holds {held}"
        ));
    }
    Ok(Sparse {
        segments: segs,
        idx: 0,
        pos: 0,
        size: real,
    })
}

/// The numbers of a GNU sparse 1.0 map, one a line: the count of
/// segments, then each segment's offset and length.
#[derive(Default)]
pub(super) struct V1Map {
    nums: Vec<u64>,
    /// The count of segments, once read.
    want: Option<u64>,
    /// Where the next line starts in the map's bytes.
    start: usize,
}

impl V1Map {
    pub(super) fn complete(&self) -> bool {
        self.want
            .is_some_and(|w| self.nums.len() as u64 == 2 * w + 1)
    }

    /// Take the next line of `buf` (the map's bytes so far); false when
    /// it holds no complete line.
    ///
    /// # Errors
    /// A line that is not a number, or a count over the limit.
    pub(super) fn take_line(&mut self, buf: &[u8]) -> Result<bool, String> {
        let Some(nl) = buf[self.start..].iter().position(|&b| b == b'\n') else {
            return Ok(false);
        };
        let s = std::str::from_utf8(&buf[self.start..self.start + nl]).unwrap_or("x");
        if self.want.is_none() && s.starts_with('#') {
            // Comment lines before the map (`#!gnu-sparse-format`), as libarchive allows.
            self.start += nl + 1;
            return Ok(true);
        }
        let n: u64 = s
            .parse()
            .map_err(|_| "bad number in the GNU sparse 1.0 map".to_string())?;
        self.start += nl + 1;
        if self.want.is_none() {
            if n as usize > MAX_SPARSE_ENTRIES {
                return Err(format!(
                    "sparse map has more than {MAX_SPARSE_ENTRIES} entries"
                ));
            }
            self.want = Some(n);
        }
        self.nums.push(n);
        Ok(true)
    }

    /// The segments, as (offset, length).
    pub(super) fn pairs(&self) -> Vec<(i64, i64)> {
        let clamp = |n: u64| n.min(i64::MAX as u64) as i64;
        self.nums[1..]
            .chunks(2)
            .map(|c| (clamp(c[0]), clamp(c[1])))
            .collect()
    }
}
