//! The CPU cells' gate loops built twice on x86-64: for the baseline (SSE2, 4 lanes) and for
//! AVX2 (8 lanes), the AVX2 build running where the processor has it. Both are the same
//! operations in the same order (Rust contracts no multiply-add into an FMA), so their results
//! are equal bit for bit; each cell tests that.

/// Whether the AVX2 builds run.
pub(crate) fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `fn $name(args)` running `$body(args)`, in `$avx2` (the same body compiled with AVX2)
/// where the processor has it. `$body` should be `#[inline(always)]`, so that each build
/// compiles its own copy.
macro_rules! with_avx2_build {
    ($(#[$doc:meta])* fn $name:ident, $avx2:ident => $body:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        $(#[$doc])*
        pub(super) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if $crate::ops::simd::avx2() {
                // SAFETY: the processor has AVX2 (checked just above).
                unsafe { $avx2($($arg),*) };
                return;
            }
            $body($($arg),*);
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        fn $avx2($($arg: $ty),*) {
            $body($($arg),*);
        }
    };
}
pub(crate) use with_avx2_build;
