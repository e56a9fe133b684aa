//! The CPU reference's buffer pool: large f32 buffers of dropped CPU tensors are kept and
//! handed to the next op that needs one of about the same size, as the GPU's pool does.
//!
//! Without it every step's large outputs (a batch gather, a weight gradient, an LSTM's states)
//! are fresh allocations: past malloc's mmap threshold (128 KiB by default in glibc) each is
//! mapped, page-faulted in, zeroed by the kernel and unmapped again, every step. Measured on
//! W2 (BENCHMARKS.md): about 10% of a step.

use std::sync::Mutex;

/// Smaller buffers are left to malloc, which reuses them well.
const MIN_LEN: usize = (128 << 10) / 4;
/// At most this many floats (256 MiB) are kept, and at most this many buffers.
const MAX_KEPT_LEN: usize = (256 << 20) / 4;
const MAX_KEPT: usize = 64;

static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

fn pool() -> std::sync::MutexGuard<'static, Vec<Vec<f32>>> {
    POOL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Takes back a buffer that is no longer used (a CPU tensor's, when it is dropped).
pub(crate) fn give(v: Vec<f32>) {
    if v.capacity() < MIN_LEN || v.capacity() > MAX_KEPT_LEN {
        return;
    }
    let mut pool = pool();
    let kept: usize = pool.iter().map(Vec::capacity).sum();
    if pool.len() < MAX_KEPT && kept + v.capacity() <= MAX_KEPT_LEN {
        pool.push(v);
    }
}

/// An empty buffer with room for `len` floats: a kept one whose capacity is within 25% above
/// `len`, or a new one.
pub(crate) fn with_capacity(len: usize) -> Vec<f32> {
    match taken(len) {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(len),
    }
}

/// `len` floats for an output its op overwrites entirely: a kept buffer's old values (no
/// zeroing pass), or zeros in a new one. Values, never uninitialised memory.
pub(crate) fn overwritten(len: usize) -> Vec<f32> {
    let mut v = taken(len).unwrap_or_else(|| Vec::with_capacity(len));
    if v.len() >= len {
        v.truncate(len);
    } else {
        v.resize(len, 0.0);
    }
    v
}

/// A kept buffer whose capacity is within 25% above `len`, if there is one (its old length
/// and values left as they were).
fn taken(len: usize) -> Option<Vec<f32>> {
    if len < MIN_LEN {
        return None;
    }
    let mut pool = pool();
    let i = pool
        .iter()
        .position(|v| v.capacity() >= len && v.capacity() <= len + len / 4)?;
    Some(pool.swap_remove(i))
}

/// `len` zeros, in a kept buffer when one fits.
pub(crate) fn zeros(len: usize) -> Vec<f32> {
    let mut v = with_capacity(len);
    v.resize(len, 0.0);
    v
}

#[cfg(test)]
mod tests {
    use super::{MIN_LEN, give, overwritten, with_capacity, zeros};

    #[test]
    fn a_given_buffer_is_reused_zeroed_and_not_for_a_much_smaller_request() {
        // a size no other test uses, so a parallel test cannot take it first
        let len = MIN_LEN + 12_345;
        let mut v = vec![7.0f32; len];
        v[0] = 1.0;
        let ptr = v.as_ptr();
        give(v);
        let z = zeros(len - 3);
        assert_eq!(z.as_ptr(), ptr, "the kept buffer is handed out again");
        assert_eq!(z.len(), len - 3);
        assert!(z.iter().all(|&x| x == 0.0), "and it is zeroed");
        give(z);
        // a request far below the kept capacity gets a new buffer, not a 5x larger one
        let small = with_capacity(MIN_LEN);
        assert_ne!(small.as_ptr(), ptr);
        assert!(small.is_empty() && small.capacity() >= MIN_LEN);
    }

    #[test]
    fn an_overwritten_buffer_keeps_old_values_but_never_has_the_wrong_length() {
        let len = MIN_LEN + 54_321;
        let v = vec![7.0f32; len];
        let ptr = v.as_ptr();
        give(v);
        // shorter: the kept buffer, cut to length, its old values still there
        let o = overwritten(len - 5);
        assert_eq!((o.as_ptr(), o.len()), (ptr, len - 5));
        assert!(o.iter().all(|&x| x == 7.0));
        give(o);
        // longer than the kept length (within its capacity): the tail is zeros
        let mut o = overwritten(len - 5);
        o.truncate(len - 9);
        give(o);
        let o = overwritten(len - 5);
        assert_eq!((o.as_ptr(), o.len()), (ptr, len - 5));
        assert!(o[..len - 9].iter().all(|&x| x == 7.0) && o[len - 9..].iter().all(|&x| x == 0.0));
        // nothing kept that fits: zeros
        let fresh = overwritten(MIN_LEN + 99_999);
        assert!(fresh.len() == MIN_LEN + 99_999 && fresh.iter().all(|&x| x == 0.0));
    }
}
