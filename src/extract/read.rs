//! The reading thread: entries read, admitted, named, translated and
//! handed to the workers with their data.

use std::collections::{HashMap, HashSet};

use crate::archive::Members;
use crate::context::{Maps, Registry};
use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::frame::read::Shared;
use crate::member::{join, safe_components};
use crate::ownership::{MapChooser, namespace_origin};
use crate::progress::Progress;
use crate::sink::{Applied, Devices};
use crate::translate::{Direction, translate};

use super::ExtractOptions;
use super::admit::Admit;
use super::batch::{Batch, Data, Task, Work, data_buffer, room};
use super::big::CHUNK;
use super::crew::{Crew, Ticket, WorkerKit};
use super::dirs::DeferredDir;
use super::guard::LabelGuard;
use super::leftovers::Leftovers;
use super::name_hash::{Labels, NameHash};
use super::old_files::Existing;
use super::owners::foreign_owner;
use super::route::Router;
use super::worker::Worker;

/// The archive and what decides, entry by entry, what is extracted and
/// with which owner.
pub(super) struct Input<'a> {
    pub(super) opts: &'a ExtractOptions,
    pub(super) rd: Members,
    /// The archive's name, for messages.
    archive: String,
    pub(super) admit: Admit,
    pub(super) old: Existing,
    chooser: MapChooser<'a>,
    /// Why foreign owners are impossible, when they are (see
    /// [`foreign_owner`]).
    no_userns: Option<String>,
    /// The invoking user's real uid and gid.
    me: (u64, u64),
    guard: LabelGuard,
}

/// Why an entry goes no further.
enum Refusal {
    /// This entry is left out; the run goes on.
    Entry(Error),
    /// The run stops.
    Run(Error),
}

impl<'a> Input<'a> {
    /// Open the archive; `namespace`: the maps of the user namespace the
    /// process has entered.
    pub(super) fn open(
        opts: &'a ExtractOptions,
        reg: &'a Registry,
        namespace: Option<Maps>,
        no_userns: Option<String>,
        guard: LabelGuard,
    ) -> Result<Input<'a>> {
        let rd = Members::open(&opts.archive)?;
        let admit = Admit::new(opts);
        let old = Existing::new(opts.old_files);
        let mut chooser = MapChooser::new(reg, &opts.owners)?;
        if let Some(maps) = namespace {
            chooser = chooser.in_namespace(maps, namespace_origin(&opts.owners));
        }
        let (uid, gid) = crate::sys::creds::real_ids();
        Ok(Input {
            opts,
            rd,
            archive: opts.archive.display().to_string(),
            admit,
            old,
            chooser,
            no_userns,
            me: (u64::from(uid), u64::from(gid)),
            guard,
        })
    }

    /// An error reading the archive, which stops the run.
    pub(super) fn read_error(&self, e: Error) -> Error {
        e.with_context(format!("reading {}", self.archive))
    }

    /// The next entry, if any; with `--context`, labelled with it (the
    /// context its owners are restored as).
    fn next(&mut self) -> Result<Option<Entry>> {
        let mut e = self.rd.next_entry().map_err(|e| self.read_error(e))?;
        if let (Some(e), Some(c)) = (&mut e, &self.opts.owners.context) {
            e.label = Some(c.clone());
        }
        Ok(e)
    }

    /// The host view, when a map makes it differ from the context view.
    fn host_view(&mut self, ctx: &mut Entry) -> std::result::Result<Option<Entry>, Refusal> {
        let Some((maps, what)) = self.chooser.for_entry(ctx).map_err(Refusal::Run)? else {
            return Ok(None);
        };
        let mut host = ctx.clone();
        let o = translate(
            &mut host,
            maps,
            Direction::ToHost,
            self.opts.owners.unmapped,
            &what,
        )
        .map_err(Refusal::Entry)?;
        // What was squashed is squashed in both views.
        ctx.mode = host.mode;
        if o.uid_squashed {
            ctx.uid = u64::from(crate::idmap::OVERFLOW_ID);
        }
        if o.gid_squashed {
            ctx.gid = u64::from(crate::idmap::OVERFLOW_ID);
        }
        Ok(Some(host))
    }

    /// Can `host`'s owner be given? `Some`: a warning that it is not.
    fn check_owner(
        &self,
        ctx: &Entry,
        host: &Entry,
    ) -> std::result::Result<Option<String>, Refusal> {
        if host.uid >= u64::from(u32::MAX) || host.gid >= u64::from(u32::MAX) {
            let e = Error::unmapped(format!(
                "owner {}:{} is not a valid pair of IDs",
                host.uid, host.gid
            ));
            return Err(Refusal::Entry(e.with_path(ctx.display_path())));
        }
        match &self.no_userns {
            Some(why) if (host.uid, host.gid) != self.me => {
                foreign_owner(why, ctx, host, self.me, &self.opts.owners)
                    .map(Some)
                    .map_err(Refusal::Run)
            }
            _ => Ok(None),
        }
    }
}

/// What the reading thread remembers of the names it handed out, by hash.
pub(super) struct Names {
    labels: Labels,
    /// Directories a later non-directory of the same name replaced: their
    /// metadata must not be applied to whatever now stands there.
    pub(super) replaced_dirs: HashSet<u64>,
    /// Hard links by name: the last one of that name.
    link_names: HashMap<u64, LastLink>,
}

/// The last hard link of a name.
#[derive(PartialEq, Eq)]
struct LastLink {
    seq: u64,
    /// A later entry of the same name replaced it.
    replaced: bool,
}

impl Names {
    /// The entry `ctx` of hash `h` is handed out.
    fn note(&mut self, h: u64, seq: u64, ctx: &Entry) {
        if ctx.kind == Kind::Dir {
            self.labels.note_dir(h, ctx.label.clone());
            self.replaced_dirs.remove(&h);
        } else if self.labels.is_dir(h) {
            self.replaced_dirs.insert(h);
        }
        if !self.link_names.is_empty()
            && let Some(l) = self.link_names.get_mut(&h)
        {
            *l = LastLink {
                seq,
                replaced: ctx.kind != Kind::HardLink,
            };
        }
    }

    /// Is the hard link `seq` of hash `h` the last entry of its name?
    pub(super) fn is_last_link(&self, h: u64, seq: u64) -> bool {
        self.link_names.get(&h)
            == Some(&LastLink {
                seq,
                replaced: false,
            })
    }
}

/// The reading thread's state.
pub(super) struct Reading<'a> {
    pub(super) input: Input<'a>,
    pub(super) kit: &'a WorkerKit<'a>,
    pub(super) hasher: NameHash,
    pub(super) names: Names,
    router: Router,
    pub(super) crew: Crew,
    /// The reading thread's own worker.
    pub(super) planner: Worker,
    pub(super) progress: &'a Progress,
    /// Errors and warnings found by the reading thread (names, maps),
    /// kept like a worker's.
    pub(super) early: Leftovers,
    /// Hard link entries, made at the end.
    pub(super) links: Vec<Task>,
    /// The destination's own entry (`.`), applied with the directories.
    pub(super) root_dir: Option<DeferredDir>,
    /// The entry being handed out, counting from 1.
    pub(super) seq: u64,
}

impl<'a> Reading<'a> {
    pub(super) fn new(
        input: Input<'a>,
        crew: Crew,
        planner: Worker,
        kit: &'a WorkerKit<'a>,
        progress: &'a Progress,
    ) -> Reading<'a> {
        let hasher = NameHash::new();
        let mut input = input;
        let mut early = Leftovers::default();
        for e in input.rd.take_errors() {
            early.error(0, e);
        }
        Reading {
            input,
            kit,
            names: Names {
                labels: Labels::new(hasher.clone()),
                replaced_dirs: HashSet::new(),
                link_names: HashMap::new(),
            },
            router: Router::new(hasher.clone(), crew.len(), crew.finished.clone()),
            hasher,
            crew,
            planner,
            progress,
            early,
            links: Vec::new(),
            root_dir: None,
            seq: 0,
        }
    }

    /// Hand out every entry. `Err`: what stopped the run.
    pub(super) fn run(&mut self, on_entry: &mut dyn FnMut(&[u8])) -> Result<()> {
        loop {
            let next = self.input.next()?;
            // An increment's listing headers come before its members.
            self.deletions();
            if self.seq == 0 && self.input.rd.is_increment() {
                let top = self.input.guard.dest_label();
                self.names.labels.use_disk(top);
            }
            let Some(mut ctx) = next else {
                return Ok(());
            };
            let Some(stored) = self.input.admit.admit(&mut ctx) else {
                continue;
            };
            self.seq += 1;
            match self.prepare(ctx) {
                Ok(t) => self.entry(t, stored.as_deref(), on_entry)?,
                Err(Refusal::Entry(e)) => self.early.error(self.seq, e),
                Err(Refusal::Run(e)) => return Err(e),
            }
        }
    }

    /// The entry as a task for a worker: its name made safe, its host view,
    /// whether it gets the label xattr. (Boxed here, as it travels: the
    /// steps after this one move a pointer, not the entry.)
    fn prepare(&mut self, mut ctx: Entry) -> std::result::Result<Box<Task>, Refusal> {
        let (comps, stripped) = safe_components(&ctx.path)
            .map_err(|m| Refusal::Entry(Error::unsafe_path(m).with_path(ctx.display_path())))?;
        let key = join(&comps);
        if stripped {
            self.early.warn("Removing leading '/' from member names");
        }
        if let Some(w) = self.input.guard.check(&ctx) {
            self.early.warn(w);
        }
        let host = self.input.host_view(&mut ctx)?;
        let a = Applied {
            ctx: &ctx,
            host: host.as_ref().unwrap_or(&ctx),
        };
        if let Some(w) = self.input.check_owner(a.ctx, a.host)? {
            self.early.warn(w);
        }
        self.kit.sink.record(&a).map_err(Refusal::Run)?;
        let root = &self.planner.root;
        let label = self.kit.sink.writes_label() && self.names.labels.wants(&key, &ctx, root);
        Ok(Box::new(Task {
            seq: self.seq,
            key,
            ctx,
            host,
            label,
            data: Data::None,
        }))
    }

    /// Keep or hand out an accepted entry; `on_entry` gets the name of each
    /// one kept or handed out (`stored`: as stored, when the transform
    /// renamed it). `Err`: what stops the run.
    fn entry(
        &mut self,
        t: Box<Task>,
        stored: Option<&[u8]>,
        on_entry: &mut dyn FnMut(&[u8]),
    ) -> Result<()> {
        let h = self.hasher.of(&t.key);
        let fresh = self.router.fresh(h);
        self.names.note(h, self.seq, &t.ctx);
        if t.key.is_empty() {
            self.root_entry(t);
            return Ok(());
        }
        if t.ctx.kind == Kind::HardLink {
            on_entry(stored.unwrap_or(&t.ctx.path));
            let last = LastLink {
                seq: t.seq,
                replaced: false,
            };
            self.names.link_names.insert(h, last);
            self.links.push(*t);
            return Ok(());
        }
        if t.ctx.kind.is_device() && self.kit.sink.devices() == Devices::RecordOnly {
            return Ok(());
        }
        if self.router.must_wait(&t.key, h, t.ctx.kind == Kind::Dir) {
            self.crew.sync()?;
            // The workers are idle: new subtrees get their names before
            // this entry, whose order matters, is applied.
            for e in self.kit.staging.publish(&self.planner.root) {
                self.early.error(self.seq, e);
            }
        }
        on_entry(stored.unwrap_or(&t.ctx.path));
        self.hand_out(t, h, fresh)
    }

    /// The destination's own entry: a directory's metadata is applied at
    /// the end; anything else is refused.
    fn root_entry(&mut self, t: Box<Task>) {
        if t.ctx.kind != Kind::Dir {
            let e = Error::unsafe_path("member has an empty name").with_path(t.ctx.display_path());
            self.early.error(self.seq, e);
            return;
        }
        let host = t.host.unwrap_or_else(|| t.ctx.clone());
        self.root_dir = Some(DeferredDir {
            seq: 0,
            key: Vec::new(),
            ctx: t.ctx,
            host,
            label: t.label,
        });
    }

    /// Hand the entry `t` of hash `h` to its worker, unless an old file of
    /// its name keeps it out (`fresh`: see [`Existing::leaves_out`]).
    fn hand_out(&mut self, t: Box<Task>, h: u64, fresh: bool) -> Result<()> {
        let (seq, early) = (self.seq, &mut self.early);
        let root = &self.planner.root;
        if self
            .input
            .old
            .leaves_out(root, &t.key, &t.ctx, fresh, &mut |e| early.error(seq, e))
        {
            return Ok(());
        }
        let w = self.router.worker(h, t.ctx.kind == Kind::Dir);
        let ticket = if t.ctx.kind == Kind::File && t.ctx.size > CHUNK as u64 {
            self.big_file(t, w)?;
            self.crew.last_sent(w)
        } else {
            self.queue(t, w)?
        };
        self.router.handed(h, ticket);
        Ok(())
    }

    /// Put the entry `t` and its data in worker `w`'s batch; send the
    /// batch when it is full. Returns the entry's ticket.
    fn queue(&mut self, mut t: Box<Task>, w: usize) -> Result<Ticket> {
        let size = t.ctx.size;
        let has_data = t.ctx.kind == Kind::File && size > 0;
        // Without copying when the archive's frame holds all of the
        // member's data (frames are cut at member boundaries).
        let borrowed = if has_data {
            let b = self.input.rd.borrow_data(size as usize);
            b.map_err(|e| self.input.read_error(e))?
        } else {
            None
        };
        // A batch holds the bytes of one frame at most: it is sent before
        // it would keep a second one in memory.
        if let Some(b) = &borrowed
            && let Some(f) = &self.crew.batches[w].frame
            && !f.same_frame(b)
        {
            self.crew.send(w)?;
        }
        if has_data {
            t.data = self.take_data(w, borrowed, size)?;
            self.progress.add_bytes(size);
        }
        let batch = &mut self.crew.batches[w];
        batch.weight += t.weight();
        batch.jobs.push(Work::Entry(t));
        let ticket = self.crew.ticket(w);
        if self.crew.batches[w].full() {
            self.crew.send(w)?;
        }
        Ok(ticket)
    }

    /// The member's `size` bytes of data for worker `w`'s batch: the share
    /// of the frame `borrowed` when it holds them all, else a copy.
    fn take_data(&mut self, w: usize, mut borrowed: Option<Shared>, size: u64) -> Result<Data> {
        let batch = &mut self.crew.batches[w];
        if let Some(b) = borrowed.take_if(|b| b.len() as u64 == size) {
            if batch.frame.is_none() {
                batch.frame = Some(b.clone());
            }
            return Ok(Data::Shared(b));
        }
        copy_data(&mut self.input.rd, batch, borrowed, size as usize, self.kit)
            .map_err(|e| self.input.read_error(e))
    }
}

/// Copy the member's `len` bytes of data into `batch`'s buffer; `part`:
/// what a frame ending inside the member gave already.
fn copy_data(
    rd: &mut Members,
    batch: &mut Batch,
    part: Option<Shared>,
    len: usize,
    kit: &WorkerKit,
) -> Result<Data> {
    if batch.data.capacity() == 0 {
        batch.data = data_buffer(&kit.buffers);
    }
    let at = batch.used;
    let b = room(&mut batch.data, at, len);
    let mut got = 0;
    if let Some(part) = part {
        b[..part.len()].copy_from_slice(&part);
        got = part.len();
    }
    while got < b.len() {
        match rd.read_data(&mut b[got..])? {
            0 => break,
            k => got += k,
        }
    }
    // (The buffer holds an earlier batch's bytes: a member's data that
    // ends early reads as zeros, not as those.)
    b[got..].fill(0);
    batch.used = at + len;
    Ok(Data::At { at, len })
}
