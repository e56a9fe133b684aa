//! Buffer pool: storage buffers reused by size class across ops, steps and epochs.
//!
//! Classes are four per power of two (waste at most 25%), so a training loop whose shapes
//! repeat settles on a fixed set of buffers. A released buffer may still be read by commands
//! recorded but not yet submitted, so it only becomes reusable after the next submit
//! (`recycle_pending`); reusing it earlier would let a `write_buffer` (which runs before the
//! pending commands) overwrite data those commands still need.

use std::collections::HashMap;

#[derive(Default)]
pub(crate) struct BufferPool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    pending: Vec<(u64, wgpu::Buffer)>,
    /// Bytes held by buffers this pool created (in use, pending or free).
    pub(crate) allocated_bytes: u64,
}

/// The size class (in bytes) for a request of `bytes`: at least 256, then four steps per
/// power of two.
pub(crate) fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(256);
    let pow = bytes.next_power_of_two();
    // Steps of pow/8 above pow/2 give the classes 5/8, 6/8, 7/8 and 8/8 of `pow`.
    let step = pow / 8;
    bytes.div_ceil(step) * step
}

impl BufferPool {
    pub(crate) fn take(&mut self, class: u64) -> Option<wgpu::Buffer> {
        self.free.get_mut(&class).and_then(Vec::pop)
    }

    pub(crate) fn release(&mut self, class: u64, buffer: wgpu::Buffer) {
        self.pending.push((class, buffer));
    }

    pub(crate) fn recycle_pending(&mut self) {
        for (class, buffer) in self.pending.drain(..) {
            self.free.entry(class).or_default().push(buffer);
        }
    }

    /// Drops every free buffer (e.g. after an out-of-memory error, to make room).
    pub(crate) fn trim(&mut self) {
        for (class, buffers) in self.free.drain() {
            self.allocated_bytes -= class * buffers.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_cover_the_request_and_waste_at_most_a_quarter() {
        for bytes in [1u64, 4, 255, 256, 257, 1000, 4096, 4097, 123_457, 1 << 27] {
            let c = size_class(bytes);
            assert!(c >= bytes, "{bytes} -> {c}");
            assert!(
                c <= (bytes.max(256) * 5).div_ceil(4) + 256,
                "{bytes} -> {c}"
            );
            assert_eq!(c % 4, 0);
        }
        assert_eq!(size_class(1000), size_class(1001));
    }
}
