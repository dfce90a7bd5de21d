//! The allocator of the `conflux` binary: mimalloc, asked for a plain block
//! whenever a plain block already has the alignment the caller needs.
//!
//! The `mimalloc` crate passes every request to `mi_malloc_aligned`. That
//! function takes a quick path only while the free list of the size's page is
//! non-empty, and otherwise over-allocates by the alignment and aligns
//! inside, even for the word alignment every block already has. On the
//! request path a quarter of all allocations went that way (a free list runs
//! dry each time its freed blocks wait to be collected), at several times the
//! cost of `mi_malloc` (BENCHMARKS.md, "Seventh round").
//!
//! mimalloc rounds small sizes to two words and starts blocks of 16 bytes or
//! more on a 16-byte boundary (`MI_MAX_ALIGN_SIZE`), so a request whose
//! alignment is at most 16 and at most its size is served by the plain calls;
//! larger alignments (tokio's cache-padded task cells, say) keep the aligned ones.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment mimalloc gives every block of at least this many bytes.
const PLAIN_ALIGN: usize = 16;

/// Whether a plain mimalloc block is aligned enough for `layout`.
#[inline]
fn plain(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

/// mimalloc as the global allocator; see the crate documentation.
pub struct Mimalloc;

// SAFETY: every method returns memory from mimalloc (or null on failure) of
// at least the requested size and alignment: the plain calls only when
// `plain` holds, which mimalloc's block alignment guarantees, the aligned
// calls otherwise. `mi_free` and `mi_realloc*` accept any mimalloc pointer,
// aligned or not.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        if plain(align, size) {
            // SAFETY: plain allocation; any size is accepted.
            unsafe { mi::mi_malloc(size) }.cast()
        } else {
            // SAFETY: `align` is a power of two, as `Layout` guarantees.
            unsafe { mi::mi_malloc_aligned(size, align) }.cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        if plain(align, size) {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc(size) }.cast()
        } else {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc_aligned(size, align) }.cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a pointer this allocator returned.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        if plain(align, new_size) {
            // SAFETY: `ptr` came from this allocator; the new block is plain
            // and aligned enough for the new size, as in `alloc`.
            unsafe { mi::mi_realloc(ptr.cast::<c_void>(), new_size) }.cast()
        } else {
            // SAFETY: as above, keeping the alignment the layout asks for.
            unsafe { mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, align) }.cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block meets its layout, holds what is written to it, and keeps
    /// it when grown or shrunk, across the plain and aligned paths.
    #[test]
    fn blocks_are_aligned_and_keep_their_contents() {
        let sizes = [
            1usize, 3, 7, 8, 9, 15, 16, 17, 24, 31, 40, 100, 1000, 1025, 5000, 70_000,
        ];
        let aligns = [1usize, 2, 4, 8, 16, 32, 64, 128, 4096];
        let mut kept = Vec::new();
        for &size in &sizes {
            for &align in &aligns {
                let layout = Layout::from_size_align(size, align).expect("valid layout");
                // SAFETY: the layout has a non-zero size.
                let ptr = unsafe { Mimalloc.alloc(layout) };
                assert!(!ptr.is_null(), "{size}/{align}");
                assert_eq!(ptr as usize % align, 0, "size {size}, align {align}");
                for i in 0..size {
                    // SAFETY: `ptr` holds `size` bytes.
                    unsafe { ptr.add(i).write(i as u8) };
                }
                kept.push((ptr, layout));
            }
        }
        for (ptr, layout) in kept {
            let (size, align) = (layout.size(), layout.align());
            // Grown, then shrunk below the original size: the first bytes stay.
            let grown = Layout::from_size_align(size * 3, align).expect("valid layout");
            // SAFETY: `ptr` came from this allocator with `layout`.
            let ptr = unsafe { Mimalloc.realloc(ptr, layout, grown.size()) };
            let shrunk = size / 2 + 1;
            // SAFETY: `ptr` came from this allocator with `grown`.
            let ptr = unsafe { Mimalloc.realloc(ptr, grown, shrunk) };
            assert!(!ptr.is_null());
            assert_eq!(ptr as usize % align, 0, "realloc of {size}, align {align}");
            for i in 0..shrunk.min(size) {
                // SAFETY: `ptr` holds at least `shrunk` bytes.
                let byte = unsafe { ptr.add(i).read() };
                assert_eq!(byte, i as u8, "byte {i} of {size}/{align}");
            }
            let last = Layout::from_size_align(shrunk, align).expect("valid layout");
            // SAFETY: `ptr` came from this allocator with `last`.
            unsafe { Mimalloc.dealloc(ptr, last) };
        }
    }

    #[test]
    fn zeroed_blocks_are_zero() {
        for (size, align) in [(24, 8), (33, 16), (4000, 64), (100_000, 8)] {
            let layout = Layout::from_size_align(size, align).expect("valid layout");
            // SAFETY: the layout has a non-zero size.
            let ptr = unsafe { Mimalloc.alloc_zeroed(layout) };
            assert_eq!(ptr as usize % align, 0);
            // SAFETY: `ptr` holds `size` bytes.
            let bytes = unsafe { core::slice::from_raw_parts(ptr, size) };
            assert!(bytes.iter().all(|&b| b == 0), "{size}/{align}");
            // SAFETY: `ptr` came from this allocator with `layout`.
            unsafe { Mimalloc.dealloc(ptr, layout) };
        }
    }
}
