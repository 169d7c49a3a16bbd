//! Process tuning for a server that stays open all day: less resident memory (figures in
//! BENCHMARKS.md, "Measurements behind some constants"). Both are about how this binary links
//! and allocates, so they live with the binary, not in the library that other programs may link.

/// `pow` is the one function of the C maths library devserve would use — tokio's multi-threaded
/// scheduler calls `f64::powf` for a moving average of poll times. Defined here from the `libm`
/// crate (musl's implementation, in Rust), it leaves libm.so out of the process altogether.
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// glibc serves allocations above its mmap threshold (128 KiB) with mmap and gives them back on
/// free — but the first such free raises the threshold to that block's size, so from then on
/// file-sized reads come from the heap and stay resident for the rest of the day. Fixed at
/// 256 KiB, they are given back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn keep_large_allocations_mapped() {
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Other C libraries keep no such threshold.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn keep_large_allocations_mapped() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interposed `pow` must be the real function: the scheduler's averages depend on it.
    #[test]
    fn pow_is_the_real_power_function() {
        assert_eq!(pow(2.0, 10.0), 1024.0);
        assert_eq!(pow(9.0, 0.5), 3.0);
        assert!((pow(0.9, 3.0) - 0.729).abs() < 1e-12);
        assert!(pow(f64::NAN, 1.0).is_nan());
        // What the process calls through `f64::powf` resolves to the same answer.
        assert_eq!(2f64.powf(10.0), pow(2.0, 10.0));
    }

    #[test]
    fn the_mmap_threshold_can_be_set() {
        keep_large_allocations_mapped();
        let big = vec![1u8; 1 << 20];
        assert_eq!(big.iter().map(|&b| usize::from(b)).sum::<usize>(), 1 << 20);
    }
}
