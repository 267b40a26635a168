//! User-space drivers of a statically linked libibverbs (feature `static`).
//!
//! The shared libibverbs loads its drivers (`libmlx5-rdmav34.so`, ...) from its provider
//! directory. The static one has them linked in, and lists a device only after its driver is
//! registered with `ibv_static_providers` (`<infiniband/verbs.h>`, `RDMA_STATIC_PROVIDERS`).
//! librdmacm lists the devices itself, so the registration comes before either library's
//! first use.

/// Registers every driver linked in, once per process; a no-op for the shared library.
#[cfg(not(feature = "static"))]
#[inline]
pub fn register_static_providers() {}

/// Registers every driver linked in, once per process; a no-op for the shared library.
#[cfg(feature = "static")]
pub fn register_static_providers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // Once only: a driver registered twice would list each of its devices twice.
    ONCE.call_once(|| {
        // SAFETY: `verbs_provider_all` is libibverbs' "every driver" marker, compared by
        // address and never read here; the null pointer ends the variadic list.
        unsafe {
            ibv_static_providers(
                std::ptr::null_mut(),
                std::ptr::addr_of!(verbs_provider_all),
                std::ptr::null::<VerbsDeviceOps>(),
            )
        }
    });
}

/// `struct verbs_device_ops`: opaque, only its address is used.
#[cfg(feature = "static")]
#[repr(C)]
struct VerbsDeviceOps {
    _opaque: [u8; 0],
}

#[cfg(feature = "static")]
extern "C" {
    /// Registers the drivers of a static link; the list ends with a null pointer.
    fn ibv_static_providers(unused: *mut std::ffi::c_void, ...);
    /// Stands for every driver the static libibverbs was built with.
    static verbs_provider_all: VerbsDeviceOps;
}
