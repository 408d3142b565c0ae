//! The driving state machine of a bufferevent: its task's poll connects,
//! reads once, writes, and runs the due callbacks in order — the way
//! libevent's loop drives a bufferevent from its read and write events.
//! When the task runs is the executor's decision (the task has the
//! bufferevent's priority); the task only stops between two callbacks when
//! one of them ended the loop iteration (`loopbreak`, `loopcontinue`).

use super::*;

pub(super) enum ReadStep {
    Data,
    Eof,
    /// Input at its high watermark, or the buffers are borrowed: wait to
    /// be woken.
    Stalled,
    Blocked,
    Timeout,
    Error(io::Error),
}

pub(super) enum Delivered {
    Done,
    /// The iteration was ended by a callback: the rest waits for the
    /// task's next poll.
    Stopped,
    Freed,
}

/// Turns `IN_TASK` off when the task's poll ends (a panic included).
pub(super) struct InTask<'a>(&'a Status);

impl Drop for InTask<'_> {
    fn drop(&mut self) {
        self.0.set(bev_state::IN_TASK, false);
    }
}

impl BevInner {
    /// The task's body: connect, one read, the writes, the callbacks.
    pub(super) fn run(self: &Rc<Self>, base: &BaseInner, cx: &mut Context<'_>) -> Poll<()> {
        self.status.set(bev_state::IN_TASK, true);
        let in_task = InTask(&self.status);
        let mut read_tried = false;
        let mut read_blocked = false;
        let mut write_blocked = false;
        let mut connect_blocked = false;
        let mut handshake_blocked = false;
        for _ in 0..MAX_PASSES {
            self.status.set(bev_state::DIRTY, false);
            if !connect_blocked && self.is_connecting() {
                match self.poll_connect(cx) {
                    Poll::Pending => connect_blocked = true,
                    Poll::Ready(Ok(())) => self.queue(Action::Event(BEV_EVENT_CONNECTED)),
                    Poll::Ready(Err(ConnectFail::Timeout)) => {
                        self.disable_bits(EV_WRITE);
                        self.queue(Action::Event(BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT));
                    }
                    Poll::Ready(Err(ConnectFail::Error(e))) => {
                        *self.error.borrow_mut() = Some(e);
                        self.queue(Action::Event(BEV_EVENT_ERROR));
                    }
                }
            }
            if !handshake_blocked && self.status.has(bev_state::HANDSHAKING) {
                match self.poll_handshake(cx) {
                    Poll::Pending => handshake_blocked = true,
                    Poll::Ready(Ok(())) => self.queue(Action::Event(BEV_EVENT_CONNECTED)),
                    // libevent's conn_closed: both directions stop, the
                    // event says READING.
                    Poll::Ready(Err(e)) => {
                        self.disable_bits(EV_READ | EV_WRITE);
                        let what = if is_idle_timeout(&e) {
                            BEV_EVENT_TIMEOUT
                        } else {
                            BEV_EVENT_ERROR
                        };
                        *self.error.borrow_mut() = Some(e);
                        self.queue(Action::Event(BEV_EVENT_READING | what));
                    }
                }
            }
            if !read_tried && self.reading_wanted() {
                read_tried = true;
                match self.read_step(cx) {
                    ReadStep::Data => {
                        if self.input_len() >= self.marks.get().read_low {
                            self.queue(Action::Read);
                        }
                    }
                    ReadStep::Eof => {
                        self.disable_bits(EV_READ);
                        self.queue(Action::Event(BEV_EVENT_READING | BEV_EVENT_EOF));
                    }
                    ReadStep::Stalled | ReadStep::Blocked => read_blocked = true,
                    ReadStep::Timeout => {
                        self.disable_bits(EV_READ);
                        self.queue(Action::Event(BEV_EVENT_READING | BEV_EVENT_TIMEOUT));
                    }
                    ReadStep::Error(e) => {
                        self.disable_bits(EV_READ);
                        *self.error.borrow_mut() = Some(e);
                        self.queue(Action::Event(BEV_EVENT_READING | BEV_EVENT_ERROR));
                    }
                }
            }
            if !write_blocked && self.writing_wanted() && !self.write_step(cx) {
                write_blocked = true;
            }
            match self.deliver(base) {
                Delivered::Done => {}
                Delivered::Freed => return Poll::Ready(()),
                Delivered::Stopped => {
                    // Polled again at the next iteration (the executor
                    // never polls a task twice in one).
                    drop(in_task);
                    cx.waker().wake_by_ref();
                    self.sync_count(base);
                    return Poll::Pending;
                }
            }
            if !self.status.has(bev_state::DIRTY) {
                break;
            }
        }
        drop(in_task);
        if self.status.has(bev_state::FREED) {
            return Poll::Ready(());
        }
        let more = self.status.has(bev_state::DIRTY)
            || (self.reading_wanted() && !read_blocked)
            || (self.writing_wanted() && !write_blocked)
            || (self.is_connecting() && !connect_blocked)
            || (self.status.has(bev_state::HANDSHAKING) && !handshake_blocked);
        if more {
            cx.waker().wake_by_ref();
        }
        self.sync_count(base);
        Poll::Pending
    }

    pub(super) fn read_step(&self, cx: &mut Context<'_>) -> ReadStep {
        let r = self.with_stream(|s| match s.poll_fill(cx) {
            Poll::Ready(Ok(0)) if s.is_eof() => ReadStep::Eof,
            Poll::Ready(Ok(0)) => ReadStep::Stalled,
            Poll::Ready(Ok(_)) => ReadStep::Data,
            Poll::Ready(Err(e)) if is_idle_timeout(&e) => ReadStep::Timeout,
            Poll::Ready(Err(e)) => ReadStep::Error(e),
            Poll::Pending => ReadStep::Blocked,
        });
        r.unwrap_or(ReadStep::Stalled)
    }

    /// Writes what the output holds (or finishes). Returns false when the
    /// write is waiting for the socket (or cannot run now).
    pub(super) fn write_step(&self, cx: &mut Context<'_>) -> bool {
        let finish = self.status.has(bev_state::FINISH);
        let r = self.with_stream(|s| {
            let before = s.output().len();
            let r = if finish {
                s.poll_finish(cx)
            } else {
                s.poll_flush_watermark(cx)
            };
            (r, before.saturating_sub(s.output().len()))
        });
        let Some((r, wrote)) = r else {
            return false;
        };
        let low = self.marks.get().write_low;
        if wrote > 0 && self.output_len() <= low {
            self.queue(Action::Write);
        }
        match r {
            Poll::Ready(Ok(())) => {
                if finish {
                    self.status.set(bev_state::FINISH, false);
                }
                true
            }
            Poll::Pending => false,
            Poll::Ready(Err(e)) => {
                self.disable_bits(EV_WRITE);
                self.status.set(bev_state::FINISH, false);
                if is_idle_timeout(&e) {
                    self.queue(Action::Event(BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT));
                } else {
                    *self.error.borrow_mut() = Some(e);
                    self.queue(Action::Event(BEV_EVENT_WRITING | BEV_EVENT_ERROR));
                }
                true
            }
        }
    }

    /// Runs the due callbacks, in order, until one of them ends the loop
    /// iteration (`loopbreak`, `loopcontinue`): the rest stay queued for
    /// the task's next poll.
    pub(super) fn deliver(self: &Rc<Self>, base: &BaseInner) -> Delivered {
        loop {
            if self.status.has(bev_state::FREED) {
                return Delivered::Freed;
            }
            let next = self.actions.borrow_mut().pop_front();
            let Some(a) = next else {
                return Delivered::Done;
            };
            if !self.has_callback(a) {
                // Nothing to call: not a callback, nothing to defer.
                continue;
            }
            if base.ends_iteration() {
                self.actions.borrow_mut().push_front(a);
                return Delivered::Stopped;
            }
            let handle = BufferEvent {
                inner: self.clone(),
            };
            match a {
                Action::Read => self.call_data(base, &self.readcb, 0, &handle, "read"),
                Action::Write => self.call_data(base, &self.writecb, 1, &handle, "write"),
                Action::Event(what) => self.call_event(base, &handle, what),
            }
        }
    }

    /// Whether the callback `a` would call is set.
    pub(super) fn has_callback(&self, a: Action) -> bool {
        fn is_set<T>(slot: &Cell<Option<T>>) -> bool {
            let cb = slot.take();
            let set = cb.is_some();
            slot.set(cb);
            set
        }
        match a {
            Action::Read => is_set(&self.readcb),
            Action::Write => is_set(&self.writecb),
            Action::Event(_) => is_set(&self.eventcb),
        }
    }

    pub(super) fn call_data(
        &self,
        base: &BaseInner,
        slot: &Cell<Option<DataCallback>>,
        gen: usize,
        handle: &BufferEvent,
        name: &str,
    ) {
        let Some(mut cb) = slot.take() else {
            return;
        };
        let g = self.cb_gen[gen].get();
        base.note_callback();
        let r = catch_unwind(AssertUnwindSafe(|| cb(handle)));
        if !self.status.has(bev_state::FREED) && self.cb_gen[gen].get() == g {
            slot.set(Some(cb));
        } else {
            drop(cb);
        }
        if let Err(p) = r {
            log_error!(
                "{name} callback of bufferevent on fd {} panicked; the loop stops and the panic resumes in dispatch",
                self.fd.get()
            );
            base.store_panic(p);
        }
    }

    pub(super) fn call_event(&self, base: &BaseInner, handle: &BufferEvent, what: BevEvent) {
        let Some(mut cb) = self.eventcb.take() else {
            return;
        };
        let g = self.cb_gen[2].get();
        base.note_callback();
        let r = catch_unwind(AssertUnwindSafe(|| cb(handle, what)));
        if !self.status.has(bev_state::FREED) && self.cb_gen[2].get() == g {
            self.eventcb.set(Some(cb));
        } else {
            drop(cb);
        }
        if let Err(p) = r {
            log_error!(
                "event callback of bufferevent on fd {} panicked; the loop stops and the panic resumes in dispatch",
                self.fd.get()
            );
            base.store_panic(p);
        }
    }
}
