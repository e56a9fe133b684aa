//! Tensor storage on the GPU: pooled buffers, uploads, in-place writes, and the NaN
//! poisoning that lets tests see elements a kernel failed to write.

use std::sync::Arc;

use super::gpu::{GpuContext, lock};
use super::pool::size_class;
use crate::error::Result;

impl GpuContext {
    fn check_size(&self, bytes: u64) -> Result<()> {
        let limit = self.limits.max_storage_buffer_binding_size;
        if bytes > limit {
            return Err(self.error(format!(
                "a tensor of {bytes} bytes exceeds this adapter's max_storage_buffer_binding_size of {limit} bytes; use smaller batches or layers"
            )));
        }
        Ok(())
    }

    /// A storage buffer of at least `bytes` bytes (at least 4), from the pool when one fits.
    pub(crate) fn alloc(self: &Arc<Self>, bytes: u64) -> Result<GpuBuffer> {
        let bytes = bytes.max(4).next_multiple_of(4);
        self.check_size(bytes)?;
        let class = size_class(bytes)
            .min(self.limits.max_buffer_size)
            .max(bytes);
        if let Some(raw) = lock(&self.pool).take(class) {
            return Ok(GpuBuffer::new(self, raw, class, bytes));
        }
        let create = || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgfit tensor"),
                size: class,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let raw = match self.scoped(create) {
            Ok(raw) => raw,
            Err(_) => {
                // Out of memory (or fragmentation): give the free buffers back, try once more.
                self.flush()?;
                lock(&self.pool).trim();
                // Cached bind groups hold the dropped buffers' memory: forget them too.
                lock(&self.bindings).clear();
                self.scoped(create)?
            }
        };
        lock(&self.pool).allocated_bytes += class;
        Ok(GpuBuffer::new(self, raw, class, bytes))
    }

    /// An op's output buffer; NaN-filled first when the context poisons outputs.
    pub(crate) fn alloc_output(self: &Arc<Self>, bytes: u64) -> Result<GpuBuffer> {
        let buf = self.alloc(bytes)?;
        if self.poison {
            let nan = vec![f32::NAN; (buf.bytes / 4) as usize];
            // The buffer was free before the last submit, so no pending command uses it.
            self.queue
                .write_buffer(buf.raw(), 0, bytemuck::cast_slice(&nan));
        }
        Ok(buf)
    }

    /// A new buffer holding `data`.
    pub(crate) fn upload(self: &Arc<Self>, data: &[u8]) -> Result<GpuBuffer> {
        let buf = self.alloc(data.len() as u64)?;
        if !data.is_empty() {
            self.queue.write_buffer(buf.raw(), 0, data);
        }
        Ok(buf)
    }

    /// Overwrites an existing buffer; pending commands are submitted first so they see the
    /// old contents.
    pub(crate) fn write(&self, buf: &GpuBuffer, data: &[u8]) -> Result<()> {
        if lock(&self.encoder).is_some() {
            self.flush()?;
        }
        self.scoped(|| self.queue.write_buffer(buf.raw(), 0, data))
    }

    pub(super) fn release(&self, class: u64, raw: wgpu::Buffer) {
        lock(&self.pool).release(class, raw);
    }
}

/// A pooled storage buffer owned by one tensor; returns to the pool when dropped.
pub(crate) struct GpuBuffer {
    ctx: Arc<GpuContext>,
    raw: Option<wgpu::Buffer>,
    class: u64,
    /// Bytes in use (the tensor's size); the buffer itself may be larger.
    pub(crate) bytes: u64,
}

impl GpuBuffer {
    fn new(ctx: &Arc<GpuContext>, raw: wgpu::Buffer, class: u64, bytes: u64) -> Self {
        GpuBuffer {
            ctx: ctx.clone(),
            raw: Some(raw),
            class,
            bytes,
        }
    }

    pub(crate) fn raw(&self) -> &wgpu::Buffer {
        self.raw
            .as_ref()
            .expect("a live GpuBuffer always holds its buffer")
    }

    pub(crate) fn ctx(&self) -> &Arc<GpuContext> {
        &self.ctx
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            self.ctx.release(self.class, raw);
        }
    }
}
