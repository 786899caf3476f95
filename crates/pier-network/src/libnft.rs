//! In-process nftables: `libnftables.so.1` (the library the `nft` tool is built on), loaded with
//! `dlopen` at first use so neither building nor running pier needs its development files. A
//! rule-set transaction through it costs no fork/exec of a process (~10-20 ms on a loaded host,
//! against the 5 ms networking may add to `run`). [`run`] returns `None` when the library is not
//! installed; the caller then runs the `nft` binary.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::{Mutex, OnceLock};

use crate::error::{NetError, Result};

type NewFn = unsafe extern "C" fn(u32) -> *mut c_void;
type RunFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type CtxFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type GetFn = unsafe extern "C" fn(*mut c_void) -> *const c_char;

struct Lib {
    ctx: *mut c_void,
    run: RunFn,
    get_error: GetFn,
}

// SAFETY: the context is only ever used under the mutex below, by one thread at a time, which
// libnftables allows (a context is not tied to the thread that made it).
unsafe impl Send for Lib {}

static LIB: OnceLock<Option<Mutex<Lib>>> = OnceLock::new();

fn sym<T>(handle: *mut c_void, name: &CStr) -> Option<T> {
    // SAFETY: dlsym on a handle from dlopen with a NUL-terminated name; the pointer is only
    // transmuted to the function type libnftables' header declares for that symbol.
    unsafe {
        let p = libc::dlsym(handle, name.as_ptr());
        if p.is_null() {
            None
        } else {
            Some(std::mem::transmute_copy::<*mut c_void, T>(&p))
        }
    }
}

fn load() -> Option<Mutex<Lib>> {
    // SAFETY: dlopen with a NUL-terminated name; the handle is never closed (the library stays
    // loaded for the life of the process).
    let handle = unsafe { libc::dlopen(c"libnftables.so.1".as_ptr(), libc::RTLD_NOW) };
    if handle.is_null() {
        return None;
    }
    let new: NewFn = sym(handle, c"nft_ctx_new")?;
    let run: RunFn = sym(handle, c"nft_run_cmd_from_buffer")?;
    let buffer_error: CtxFn = sym(handle, c"nft_ctx_buffer_error")?;
    let buffer_output: CtxFn = sym(handle, c"nft_ctx_buffer_output")?;
    let get_error: GetFn = sym(handle, c"nft_ctx_get_error_buffer")?;
    // SAFETY: nft_ctx_new(NFT_CTX_DEFAULT = 0) returns a context or NULL; the buffer calls take
    // that context.
    let ctx = unsafe { new(0) };
    if ctx.is_null() {
        return None;
    }
    // SAFETY: as above, on a valid context.
    unsafe {
        buffer_error(ctx);
        buffer_output(ctx);
    }
    Some(Mutex::new(Lib {
        ctx,
        run,
        get_error,
    }))
}

/// Whether libnftables has been loaded into this process.
pub(crate) fn loaded() -> bool {
    LIB.get().is_some_and(Option::is_some)
}

/// Runs an nft script in-process; `None` when libnftables is not available.
pub(crate) fn run(script: &str) -> Option<Result<()>> {
    let lib = LIB.get_or_init(load).as_ref()?;
    let lib = lib.lock().unwrap_or_else(|p| p.into_inner());
    let Ok(text) = CString::new(script) else {
        return Some(Err(NetError::Nft("script contains a NUL byte".into())));
    };
    // SAFETY: a valid context (held under the lock) and a NUL-terminated script; the error
    // buffer pointer is valid until the next call on this context, and is copied before.
    let (rc, err) = unsafe {
        let rc = (lib.run)(lib.ctx, text.as_ptr());
        let e = (lib.get_error)(lib.ctx);
        let err = if e.is_null() {
            String::new()
        } else {
            CStr::from_ptr(e).to_string_lossy().trim().to_string()
        };
        (rc, err)
    };
    Some(if rc == 0 {
        Ok(())
    } else {
        Err(NetError::Nft(err))
    })
}
