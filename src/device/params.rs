//! Dispatch parameters, packed into shared uniform buffers.
//!
//! Every dispatch has a small uniform of parameters (sizes, a step index, constants). A new
//! buffer for each took half of a dispatch's recording time on the host (measured with
//! `cargo bench --bench kernels -- dispatch_record`: 3.3 of 6.7 µs). Instead each dispatch of
//! the pending encoder takes a slot of an arena buffer; the bytes gather on the host and go
//! up in one queue write per arena just before the encoder is submitted, so they land before
//! its commands run. An arena is reused only by a later submission, which the queue orders
//! after the one that read it.

/// Bytes in one arena buffer: 1 024 slots of 256 (the usual uniform offset alignment).
const ARENA_BYTES: u64 = 256 << 10;

/// The arenas of the pending encoder and the free ones.
#[derive(Default)]
pub(super) struct ParamArenas {
    /// Arenas the pending encoder's bind groups point into, each with the bytes it will hold.
    pending: Vec<(wgpu::Buffer, Vec<u8>)>,
    /// Arenas whose last commands have been submitted, for the next encoder.
    free: Vec<wgpu::Buffer>,
}

impl ParamArenas {
    /// A slot holding `params` (a multiple of 16 bytes, at most `ARENA_BYTES`): the arena and
    /// the slot's offset, a multiple of `align` (the device's uniform offset alignment).
    pub(super) fn slot(
        &mut self,
        device: &wgpu::Device,
        align: u64,
        params: &[u8],
    ) -> (wgpu::Buffer, u64) {
        let len = params.len() as u64;
        let fits = |bytes: &Vec<u8>| (bytes.len() as u64).next_multiple_of(align) + len;
        if self
            .pending
            .last()
            .is_none_or(|(_, bytes)| fits(bytes) > ARENA_BYTES)
        {
            let buffer = self.free.pop().unwrap_or_else(|| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgfit params"),
                    size: ARENA_BYTES,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            });
            self.pending
                .push((buffer, Vec::with_capacity(ARENA_BYTES as usize)));
        }
        let (buffer, bytes) = self.pending.last_mut().expect("an arena was just ensured");
        let offset = (bytes.len() as u64).next_multiple_of(align);
        bytes.resize(offset as usize, 0);
        bytes.extend_from_slice(params);
        (buffer.clone(), offset)
    }

    /// Bytes of GPU memory the arenas hold, pending and free.
    pub(super) fn bytes(&self) -> u64 {
        (self.pending.len() + self.free.len()) as u64 * ARENA_BYTES
    }

    /// Writes the pending arenas' bytes (call it just before submitting the encoder that binds
    /// them) and frees the arenas for the next encoder.
    pub(super) fn upload(&mut self, queue: &wgpu::Queue) {
        for (buffer, bytes) in self.pending.drain(..) {
            if !bytes.is_empty() {
                queue.write_buffer(&buffer, 0, &bytes);
            }
            self.free.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ARENA_BYTES;
    use crate::Device;

    /// Slots are aligned, never overlap, and spill into a second arena when one is full; the
    /// arenas return to the free list on upload and are reused.
    #[test]
    fn slots_are_aligned_disjoint_and_spill_into_a_new_arena() {
        let Ok(device) = Device::gpu() else {
            eprintln!("!!!!! NO GPU ADAPTER: THE PARAMETER ARENA TEST IS SKIPPED !!!!!");
            assert_ne!(
                std::env::var("WGFIT_REQUIRE_GPU").as_deref(),
                Ok("1"),
                "no GPU"
            );
            return;
        };
        let ctx = device.gpu_context().expect("a GPU device");
        let mut arenas = super::ParamArenas::default();
        let align = 256;
        let per_arena = ARENA_BYTES / align;
        let mut slots = Vec::new();
        for i in 0..per_arena + 3 {
            let (buffer, offset) = arenas.slot(ctx.wgpu_device(), align, &[i as u8; 32]);
            assert_eq!(offset % align, 0);
            slots.push((buffer, offset));
        }
        assert_eq!(
            arenas.pending.len(),
            2,
            "the first arena filled, then a second"
        );
        assert_eq!(slots[per_arena as usize - 1].1, ARENA_BYTES - align);
        assert_eq!(
            slots[per_arena as usize].1, 0,
            "the spill starts a new arena"
        );
        assert_ne!(slots[0].0, slots[per_arena as usize].0);
        // the bytes sit at their slot's offset
        let (_, first) = &arenas.pending[0];
        assert_eq!(&first[256 * 7..256 * 7 + 32], &[7u8; 32]);
        arenas.upload(ctx.wgpu_queue());
        assert!(arenas.pending.is_empty() && arenas.free.len() == 2);
        assert_eq!(arenas.bytes(), 2 * ARENA_BYTES);
        let (reused, offset) = arenas.slot(ctx.wgpu_device(), align, &[1; 16]);
        assert_eq!(offset, 0);
        assert!(
            slots.iter().any(|(b, _)| *b == reused),
            "a freed arena is reused"
        );
    }
}
