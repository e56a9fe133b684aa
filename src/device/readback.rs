//! Reading results back to the host: several buffers through one staging buffer, either
//! blocking (`read_many_blocking`) or as a [`PendingRead`] that the training loop polls
//! without waiting, and the bound on submits in flight that keeps the host at most two
//! steps ahead of the GPU.
//!
//! A readback's copy is recorded into the pending encoder and travels with the next submit
//! (the step it reads the results of); the staging buffer is mapped only after that submit,
//! as wgpu requires, and waiting for it waits for that submit alone, never for work queued
//! after it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::GpuBuffer;
use super::gpu::{GpuContext, lock};
use super::recorder::Recorder;
use crate::error::Result;

/// The most submits the host lets run ahead of the GPU: after submitting step N, `flush`
/// waits until step N - 2 is done, so commands never queue without bound.
pub(crate) const MAX_IN_FLIGHT: usize = 2;

/// How many submits' indices are remembered for readbacks to wait on.
const RECENT: usize = 64;

/// How long a readback waits for its mapping's callback once its submit is done.
const MAPPING_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

type MapResult = Arc<Mutex<Option<std::result::Result<(), wgpu::BufferAsyncError>>>>;

/// Buffers' contents on their way back to the host. Made by
/// [`GpuContext::read_async`]; [`poll`](PendingRead::poll) never blocks,
/// [`wait`](PendingRead::wait) waits for the submit that carries the copy and no later one.
pub(crate) struct PendingRead {
    ctx: Arc<GpuContext>,
    staging: wgpu::Buffer,
    /// (offset in the staging buffer, bytes) per buffer read.
    ranges: Vec<(u64, u64)>,
    /// The number of the submit that carries the copy (`submits` counts from 1).
    submit: u64,
    mapped: Option<MapResult>,
}

impl PendingRead {
    /// The buffers' bytes if they have arrived; never waits for the GPU.
    pub(crate) fn poll(&mut self) -> Result<Option<Vec<Vec<u8>>>> {
        self.start()?;
        self.ctx
            .device
            .poll(wgpu::PollType::Poll)
            .map_err(|e| self.ctx.error(format!("polling for a readback: {e}")))?;
        self.take()
    }

    /// The buffers' bytes, waiting for the submit that carries them (and no later one).
    /// Counted as a readback that drains the GPU when that submit is the newest, else as an
    /// overlapped one, whether or not the bytes had arrived already.
    pub(crate) fn wait(mut self) -> Result<Vec<Vec<u8>>> {
        self.start()?;
        let counter = if self.ctx.submits.load(Ordering::Relaxed) > self.submit {
            &self.ctx.overlapped_readbacks
        } else {
            &self.ctx.readbacks
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(data) = self.poll()? {
            return Ok(data);
        }
        self.ctx.wait_for_submit(self.submit)?;
        // The submit is done, but another thread's poll may have collected the mapping's
        // callback and not run it yet: it runs in a moment, on that thread.
        let start = std::time::Instant::now();
        loop {
            if let Some(data) = self.take()? {
                return Ok(data);
            }
            if start.elapsed() > MAPPING_PATIENCE {
                return Err(self.ctx.error(format!(
                    "a readback's mapping never completed ({}s after its submit was done)",
                    MAPPING_PATIENCE.as_secs()
                )));
            }
            std::thread::sleep(std::time::Duration::from_micros(20));
            self.ctx
                .device
                .poll(wgpu::PollType::Poll)
                .map_err(|e| self.ctx.error(format!("polling for a readback: {e}")))?;
        }
    }

    /// True once a submit carries the copy.
    pub(crate) fn submitted(&self) -> bool {
        self.mapped.is_some() || {
            let _encoder = lock(&self.ctx.encoder);
            self.ctx.submits.load(Ordering::Relaxed) >= self.submit
        }
    }

    /// Submits the copy if no submit has carried it yet, and asks for the mapping.
    fn start(&mut self) -> Result<()> {
        if self.mapped.is_some() {
            return Ok(());
        }
        // Checked with the encoder locked: `flush` holds that lock from counting a submit to
        // handing it to the queue, so a count that includes the copy means its submit has
        // really been made. Mapping the staging buffer before then would fail that submit.
        let submitted = {
            let _encoder = lock(&self.ctx.encoder);
            self.ctx.submits.load(Ordering::Relaxed) >= self.submit
        };
        if !submitted {
            self.ctx.flush()?;
        }
        let result: MapResult = Arc::default();
        let slot = result.clone();
        self.staging
            .slice(..)
            .map_async(wgpu::MapMode::Read, move |r| *lock(&slot) = Some(r));
        self.mapped = Some(result);
        Ok(())
    }

    fn take(&mut self) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(mapped) = &self.mapped else {
            return Ok(None);
        };
        match lock(mapped).take() {
            None => Ok(None),
            Some(Err(e)) => Err(self.ctx.error(format!("mapping a readback buffer: {e}"))),
            Some(Ok(())) => {
                let data = {
                    let view = self
                        .staging
                        .slice(..)
                        .get_mapped_range()
                        .map_err(|e| self.ctx.error(format!("reading a mapped buffer: {e}")))?;
                    self.ranges
                        .iter()
                        .map(|&(at, n)| view[at as usize..(at + n) as usize].to_vec())
                        .collect()
                };
                self.staging.unmap();
                self.ctx.check_health()?;
                Ok(Some(data))
            }
        }
    }
}

impl GpuContext {
    /// Records copies of `bufs` (each its first `bytes[i]` bytes, a multiple of 4) into one
    /// staging buffer, in the pending encoder; the next submit carries them.
    pub(crate) fn read_async(self: &Arc<Self>, bufs: &[(&GpuBuffer, u64)]) -> Result<PendingRead> {
        let mut ranges = Vec::with_capacity(bufs.len());
        let mut size = 0;
        for &(buf, bytes) in bufs {
            let bytes = bytes
                .min(buf.bytes)
                .next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
            ranges.push((size, bytes));
            size += bytes;
        }
        let (staging, submit) = self.scoped(|| {
            let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgfit readback"),
                size: size.max(wgpu::COPY_BUFFER_ALIGNMENT),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut guard = lock(&self.encoder);
            let encoder = guard
                .get_or_insert_with(|| Recorder::new(&self.device))
                .encoder();
            for (&(buf, _), &(at, bytes)) in bufs.iter().zip(&ranges) {
                if bytes > 0 {
                    encoder.copy_buffer_to_buffer(buf.raw(), 0, &staging, at, bytes);
                }
            }
            // The encoder is locked, so the next submit is the one that carries the copies.
            (staging, self.submits.load(Ordering::Relaxed) + 1)
        })?;
        Ok(PendingRead {
            ctx: self.clone(),
            staging,
            ranges,
            submit,
            mapped: None,
        })
    }

    /// Copies `bufs` back to the host in one readback, submitting pending work and blocking
    /// until the submit that carries the copies is done.
    pub(crate) fn read_many_blocking(
        self: &Arc<Self>,
        bufs: &[(&GpuBuffer, u64)],
    ) -> Result<Vec<Vec<u8>>> {
        self.read_async(bufs)?.wait()
    }

    /// Copies `buf` back to the host (a blocking readback).
    pub(crate) fn read_blocking(self: &Arc<Self>, buf: &GpuBuffer) -> Result<Vec<u8>> {
        let mut data = self.read_many_blocking(&[(buf, buf.bytes)])?;
        Ok(data.pop().unwrap_or_default())
    }

    /// Blocks until submit number `submit` (and those before it) is done, and runs the
    /// callbacks of the mappings it completes. Submits after it keep running.
    pub(super) fn wait_for_submit(&self, submit: u64) -> Result<()> {
        let index = lock(&self.recent)
            .iter()
            .find(|(n, _)| *n >= submit)
            .map(|(_, index)| index.clone());
        // Past the submits remembered, it is long done (each flush waits for the submit two
        // before it); polling runs its callbacks.
        let poll = match index {
            Some(index) => wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            },
            None => wgpu::PollType::Poll,
        };
        self.device
            .poll(poll)
            .map_err(|e| self.error(format!("waiting for the GPU: {e}")))?;
        self.check_health()
    }

    /// Records submit `n` as in flight; returns the submit to wait for, the one
    /// `MAX_IN_FLIGHT` before it, once there is one.
    pub(super) fn track_submit(
        &self,
        n: u64,
        index: wgpu::SubmissionIndex,
    ) -> Option<wgpu::SubmissionIndex> {
        // Called right after submit `n`, so its work-done callback means `n` is done.
        let completed = self.completed.clone();
        self.queue.on_submitted_work_done(move || {
            completed.fetch_max(n, Ordering::Relaxed);
        });
        let mut recent = lock(&self.recent);
        recent.push_back((n, index.clone()));
        if recent.len() > RECENT {
            recent.pop_front();
        }
        drop(recent);
        let mut in_flight = lock(&self.in_flight);
        let done = self.completed.load(Ordering::Relaxed);
        in_flight.retain(|(m, _)| *m > done);
        in_flight.push_back((n, index));
        (in_flight.len() > MAX_IN_FLIGHT)
            .then(|| in_flight.pop_front().map(|(_, index)| index))
            .flatten()
    }

    /// The submits still running (a submit now waits for the oldest when there are
    /// `MAX_IN_FLIGHT`); never waits itself: it polls the device, which runs the callbacks of
    /// the work done so far, and forgets the submits known to be done. Apps that must not
    /// block (a UI thread between frames) submit only below the limit.
    pub(crate) fn submits_running(&self) -> Result<usize> {
        self.device
            .poll(wgpu::PollType::Poll)
            .map_err(|e| self.error(format!("polling the GPU: {e}")))?;
        let done = self.completed.load(Ordering::Relaxed);
        let mut in_flight = lock(&self.in_flight);
        in_flight.retain(|(m, _)| *m > done);
        Ok(in_flight.len())
    }

    /// Blocks until the submit `index` is done (and runs the callbacks it completes).
    pub(super) fn wait_for_index(&self, index: wgpu::SubmissionIndex) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map(drop)
            .map_err(|e| self.error(format!("waiting for the GPU: {e}")))
    }
}
