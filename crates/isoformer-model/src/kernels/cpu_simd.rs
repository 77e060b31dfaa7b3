//! Run-time dispatch for the CPU kernels' inner loops ([`super::cpu_attention`],
//! [`super::cpu_gelu`]): one plain Rust loop, compiled three times (for AVX-512F, for AVX2+FMA
//! and for the build's baseline) and chosen by the CPU it runs on, so one binary runs on any
//! x86-64 CPU and uses the widest vectors it has. Other targets (wasm32 with SIMD128, aarch64)
//! take the plain loop as their build compiles it.

/// `multiversion!(pub fn name(a: A, b: B) => plain);` defines `fn name`, which runs `plain`
/// compiled for the best instruction set this CPU has, and `mod name` holding each compiled
/// version (`name::avx512`, `name::avx2`: `unsafe`, for the tests that compare them).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $plain:ident;) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    return unsafe { $name::avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has AVX2 and FMA (checked just above).
                    return unsafe { $name::avx2($($arg),*) };
                }
            }
            $plain($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[allow(dead_code)]
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            /// # Safety
            /// The CPU must have AVX-512F.
            #[target_feature(enable = "avx512f")]
            pub unsafe fn avx512($($arg: $ty),*) {
                super::$plain($($arg),*)
            }

            /// # Safety
            /// The CPU must have AVX2 and FMA.
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn avx2($($arg: $ty),*) {
                super::$plain($($arg),*)
            }
        }
    };
}

pub(crate) use multiversion;
