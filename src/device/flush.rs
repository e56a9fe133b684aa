//! Flush-to-zero for the CPU reference: while a [`FlushDenormals`] guard lives, the calling
//! thread's floating-point unit treats subnormal inputs as zero and flushes subnormal results to
//! zero (x86-64: MXCSR's DAZ and FTZ bits; AArch64: FPCR's FZ bit), as TensorFlow and GPUs do.
//! Subnormals are 10-100x slower on most CPUs, and an optimizer's decaying moments reach them
//! after an epoch of noisy gradients. The previous mode is restored when the guard drops, so an
//! app that calls wgfit keeps its own floating-point semantics.

/// Sets flush-to-zero on this thread until dropped (a no-op on other architectures).
pub(crate) struct FlushDenormals {
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(dead_code)
    )]
    saved: u64,
}

impl FlushDenormals {
    pub(crate) fn new() -> FlushDenormals {
        let saved = imp::get();
        imp::set(saved | imp::FLUSH);
        FlushDenormals { saved }
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        imp::set(self.saved);
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    /// MXCSR bit 15 (FTZ: results) and bit 6 (DAZ: inputs).
    pub(super) const FLUSH: u64 = 0x8040;

    pub(super) fn get() -> u64 {
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr stores the 32-bit MXCSR register to the given valid address.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
        }
        u64::from(csr)
    }

    pub(super) fn set(value: u64) {
        let csr = value as u32;
        // SAFETY: ldmxcsr loads MXCSR from a valid address; only the rounding/flush/exception
        // mask bits we read back from the register itself are ever written.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly, preserves_flags));
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    /// FPCR bit 24 (FZ: flush subnormal inputs and results to zero).
    pub(super) const FLUSH: u64 = 1 << 24;

    pub(super) fn get() -> u64 {
        let fpcr: u64;
        // SAFETY: reading FPCR has no side effects.
        unsafe { std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack)) };
        fpcr
    }

    pub(super) fn set(value: u64) {
        // SAFETY: writes back a value read from FPCR with only the FZ bit changed.
        unsafe { std::arch::asm!("msr fpcr, {}", in(reg) value, options(nomem, nostack)) };
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    pub(super) const FLUSH: u64 = 0;
    pub(super) fn get() -> u64 {
        0
    }
    pub(super) fn set(_: u64) {}
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::FlushDenormals;
    use std::hint::black_box;

    #[test]
    fn subnormals_flush_to_zero_inside_the_guard_only() {
        let (tiny, scale) = (black_box(1e-37f32), black_box(1e-3f32));
        assert!(
            (tiny * scale).is_subnormal(),
            "IEEE semantics before the guard"
        );
        {
            let _flush = FlushDenormals::new();
            assert_eq!(black_box(tiny) * black_box(scale), 0.0, "FTZ: results");
            let sub = black_box(f32::from_bits(1)); // the smallest subnormal
            assert_eq!(black_box(sub) * black_box(2.0f32), 0.0, "DAZ/FZ: inputs");
        }
        assert!(
            (black_box(tiny) * black_box(scale)).is_subnormal(),
            "the caller's mode is restored"
        );
    }
}
