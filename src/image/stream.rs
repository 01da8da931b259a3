//! The second pass: the final view's entries handed on in layer order,
//! each with its data read from its own layer; layers with nothing left in
//! the view are not read again.

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::input::Source;
use crate::tar::Reader;

use super::Image;
use super::scan::open_layer;
use super::view::{Planned, View};

/// The entries of an image's final view, with their data: what extract
/// and diff read instead of one archive's tar stream.
pub struct Stream {
    image: Image,
    plan: Vec<Vec<Planned>>,
    /// The layer being read, and the next of its planned entries.
    layer: Option<usize>,
    next: usize,
    /// Entries read from the current layer.
    index: u32,
    rd: Reader<Box<dyn Source>>,
    /// Bytes of the uncompressed streams of the layers done.
    done: u64,
    /// Entries the view refused, not yet taken.
    errors: Vec<Error>,
}

impl Stream {
    /// Read the final view computed from `image`'s verified layers.
    pub fn new(image: Image, view: View) -> Stream {
        Stream {
            image,
            plan: view.layers,
            layer: None,
            next: 0,
            index: 0,
            rd: Reader::new(crate::input::source(Box::new(std::io::empty()))),
            done: 0,
            errors: view.errors,
        }
    }

    /// The image read, once done with.
    pub fn into_image(self) -> Image {
        self.image
    }

    /// The entries the view refused (each once).
    pub fn take_errors(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.errors)
    }

    /// The reader of the current entry's data.
    pub fn reader(&mut self) -> &mut Reader<Box<dyn Source>> {
        &mut self.rd
    }

    /// Bytes of the layers' uncompressed streams read so far.
    pub fn position(&self) -> u64 {
        self.done + self.rd.position()
    }

    /// The next entry of the final view, its data ready to be read.
    ///
    /// # Errors
    /// A layer that cannot be read again, or that differs from what the
    /// first pass read (it changed in between).
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        loop {
            let spent = self.layer.is_none_or(|l| self.next >= self.plan[l].len());
            if spent && !self.advance()? {
                return Ok(None);
            }
            let Some(l) = self.layer else {
                return Ok(None);
            };
            let Some(got) = self.rd.next_entry()? else {
                return Err(self.changed());
            };
            let i = self.index;
            self.index += 1;
            let want = &self.plan[l][self.next];
            if i < want.index {
                continue;
            }
            let name = want.original.as_deref().unwrap_or(&want.entry.path);
            if got.path != name || got.kind != want.entry.kind || got.size != want.entry.size {
                return Err(self.changed());
            }
            self.next += 1;
            let blank = Entry::new(Vec::new(), got.kind);
            let want = &mut self.plan[l][self.next - 1];
            return Ok(Some(std::mem::replace(&mut want.entry, blank)));
        }
    }

    fn changed(&self) -> Error {
        Error::format("the layer changed since it was verified; stopping")
            .with_context(self.context())
    }

    fn context(&self) -> String {
        let l = self.layer.unwrap_or(0);
        format!(
            "{}: layer {} of {} ({})",
            self.image.name,
            l + 1,
            self.image.layers.len(),
            self.image.layers.get(l).map_or("", |x| x.shown.as_str())
        )
    }

    /// Open the next layer that has entries in the view; false when none
    /// is left.
    fn advance(&mut self) -> Result<bool> {
        let mut l = self.layer.map_or(0, |l| l + 1);
        while l < self.plan.len() && self.plan[l].is_empty() {
            l += 1;
        }
        self.done += self.rd.position();
        self.rd = Reader::new(crate::input::source(Box::new(std::io::empty())));
        if l >= self.plan.len() {
            self.layer = None;
            self.plan.clear();
            return Ok(false);
        }
        self.layer = Some(l);
        (self.next, self.index) = (0, 0);
        let plain = open_layer(&self.image, &self.image.layers[l])
            .map_err(|e| e.with_context(self.context()))?
            .plain;
        self.rd = Reader::new(crate::input::source(plain));
        if let Some(label) = &self.image.label {
            self.rd.declare_label(label);
        }
        Ok(true)
    }
}
