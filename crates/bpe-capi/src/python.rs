//! Functions that take Python objects, for the Python package only: the `python` feature,
//! which the wheel's build turns on. The C library has no Python in it.
//!
//! - Lists of ids. Returning ids to Python means making a list of ints, and making millions
//!   of int objects costs about as much as finding the ids. The package keeps the int object
//!   of every id (a list made once per encoder, and an array of their addresses); these
//!   functions encode with the GIL released, then fill a new list from the table, which
//!   costs a reference count and a pointer per id.
//! - Text read in place. The encoders take `str` objects and read their UTF-8 where CPython
//!   keeps it, instead of a `bytes` copy made for each call. The trainer's feed reads a
//!   non-ASCII `str`'s code points and encodes them to UTF-8 on its own threads.
//! - A builtin `encode_ordinary`. A call through ctypes costs about 0.7 µs, more than
//!   encoding a sentence; the package makes, once per encoder, a builtin function object
//!   whose calls cost what any builtin's do.
//!
//! They are called through ctypes (`PyDLL`, which holds the GIL), and use functions of
//! Python's stable ABI, which the interpreter that loaded the library provides. Beyond it, a
//! list's item array is written directly and a `str`'s code points are read where CPython
//! keeps them, each only where a check found the layout expected; and reference counts are
//! incremented inline.
//!
//! On any failure the encoders return `None` (and set no exception), the builtin calls the
//! package's function instead, and the feed declines a batch it cannot read: the package
//! then takes the C ABI's path, whose errors say what went wrong. The one exception that
//! passes through is a signal handler's (Ctrl-C's `KeyboardInterrupt`), which the batch
//! encoders run between texts: they return NULL with it set, and ctypes raises it.

use crate::encoder::bpe_encoder;
use crate::status::{bpe_status, guard};
use crate::trainer::{bpe_trainer, feed_gathered};
use crate::wide::{append_utf8, to_utf8};
use bpe_core::{Allowed, Encoder, Parts, Pretokenizer, Trainer};
use std::borrow::Cow;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A Python object, only ever handled by pointer.
#[repr(C)]
pub struct PyObject {
    _opaque: [u8; 0],
}

extern "C" {
    fn PyList_New(len: isize) -> *mut PyObject;
    fn PyList_Size(list: *mut PyObject) -> isize;
    /// A borrowed reference, or NULL (with an exception set) out of range.
    fn PyList_GetItem(list: *mut PyObject, index: isize) -> *mut PyObject;
    /// Steals the reference to `item`.
    fn PyList_SetItem(list: *mut PyObject, index: isize, item: *mut PyObject) -> c_int;
    fn PyBytes_AsStringAndSize(o: *mut PyObject, data: *mut *mut c_char, len: *mut isize) -> c_int;
    /// The UTF-8 of a `str`, kept by the string (for ASCII text, its own buffer), or NULL
    /// with an exception set (not a `str`, or a lone surrogate).
    fn PyUnicode_AsUTF8AndSize(o: *mut PyObject, len: *mut isize) -> *const c_char;
    fn PyUnicode_FromStringAndSize(text: *const c_char, len: isize) -> *mut PyObject;
    fn PyUnicode_GetLength(o: *mut PyObject) -> isize;
    static mut PyUnicode_Type: PyObject;
    fn Py_IncRef(o: *mut PyObject);
    fn PyLong_FromUnsignedLong(v: std::ffi::c_ulong) -> *mut PyObject;
    fn PyByteArray_FromStringAndSize(bytes: *const c_char, len: isize) -> *mut PyObject;
    fn PyBytes_FromStringAndSize(bytes: *const c_char, len: isize) -> *mut PyObject;
    /// `(unsigned long)-1` with an exception set for anything but an int in range.
    fn PyLong_AsUnsignedLong(o: *mut PyObject) -> std::ffi::c_ulong;
    fn PyErr_Occurred() -> *mut PyObject;
    fn PyTuple_Size(tuple: *mut PyObject) -> isize;
    /// A borrowed reference, or NULL (with an exception set) out of range.
    fn PyTuple_GetItem(tuple: *mut PyObject, index: isize) -> *mut PyObject;
    fn Py_DecRef(o: *mut PyObject);
    fn PyErr_Clear();
    /// Runs the Python handlers of signals that arrived (on the main thread only): -1, with
    /// the exception set, if one raised (Ctrl-C's raises `KeyboardInterrupt`).
    fn PyErr_CheckSignals() -> c_int;
    fn PyEval_SaveThread() -> *mut c_void;
    fn PyEval_RestoreThread(state: *mut c_void);
    static mut _Py_NoneStruct: PyObject;
    fn PyCapsule_New(
        pointer: *mut c_void,
        name: *const c_char,
        destructor: Option<unsafe extern "C" fn(*mut PyObject)>,
    ) -> *mut PyObject;
    fn PyCapsule_GetPointer(capsule: *mut PyObject, name: *const c_char) -> *mut c_void;
    fn PyCFunction_NewEx(
        def: *const PyMethodDef,
        slf: *mut PyObject,
        module: *mut PyObject,
    ) -> *mut PyObject;
    /// Calls `callable` with the arguments before the NULL that ends them.
    fn PyObject_CallFunctionObjArgs(callable: *mut PyObject, ...) -> *mut PyObject;
}

/// A new reference to `None`.
unsafe fn none() -> *mut PyObject {
    PyErr_Clear();
    let none = std::ptr::addr_of_mut!(_Py_NoneStruct);
    Py_IncRef(none);
    none
}

/// Runs `f` with the GIL released; `None` if it panicked (a panic must not unwind into
/// Python, and the C ABI's path, taken then, reports it as an error).
unsafe fn without_gil<R>(f: impl FnOnce() -> R) -> Option<R> {
    let state = PyEval_SaveThread();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    PyEval_RestoreThread(state);
    r.ok()
}

/// The int object of every rank: `ints` points to `len` addresses of int objects that the
/// caller keeps alive for the whole call, the one at `i` being the int `i`.
#[derive(Clone, Copy)]
struct Table {
    ints: *const *mut PyObject,
    len: usize,
}

impl Table {
    /// The int object of `id` (a borrowed reference), if the table has one.
    unsafe fn get(self, id: u32) -> Option<*mut PyObject> {
        ((id as usize) < self.len).then(|| *self.ints.add(id as usize))
    }
}

/// The int object of an id that the table lacks (a special token's): a new one.
#[cold]
unsafe fn new_int(id: u32) -> *mut PyObject {
    PyLong_FromUnsignedLong(id.into())
}

/// A new list of the int objects of `ids`, or NULL if memory ran out.
unsafe fn list_of(ids: &[u32], table: Table) -> *mut PyObject {
    let list = PyList_New(ids.len() as isize);
    if list.is_null() {
        return list;
    }
    if !direct_lists() || ids.iter().any(|&id| id as usize >= table.len) {
        for (i, &id) in ids.iter().enumerate() {
            let item = match table.get(id) {
                Some(item) => {
                    Py_IncRef(item);
                    item
                }
                None => new_int(id),
            };
            if item.is_null() {
                Py_DecRef(list); // its items not yet set are NULL, which it allows
                return item;
            }
            PyList_SetItem(list, i as isize, item);
        }
        return list;
    }
    // Filling the list's item array directly, with the reference counts inline, costs a
    // third of what two calls per id cost; in a batch, where one thread makes every list
    // while two encode, that was a quarter of the time.
    let items = list_items(list);
    for (i, &id) in ids.iter().enumerate() {
        let item = *table.ints.add(id as usize);
        if id < SMALL_INTS {
            Py_IncRef(item); // CPython's own small ints, immortal since 3.12
        } else {
            // An int made at run time, not immortal: its count is the object's first word,
            // as Py_INCREF of the stable ABI before 3.12 increments it.
            *(item as *mut isize) += 1;
        }
        *items.add(i) = item;
    }
    list
}

/// Ids below this are CPython's cached small ints.
const SMALL_INTS: u32 = 257;

/// The item array of a list: the word after its header (reference count, type, size). Not
/// part of the stable ABI, so used only where [`direct_lists`] found it there.
unsafe fn list_items(list: *mut PyObject) -> *mut *mut PyObject {
    *(list as *const *mut *mut PyObject).add(3)
}

/// Whether lists are laid out as [`list_items`] takes them to be, as in every CPython with
/// a GIL (the package does not load this library into one without): checked once, on a
/// list of two items set through the API.
unsafe fn direct_lists() -> bool {
    static HOLDS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HOLDS.get_or_init(|| {
        let list = PyList_New(2);
        if list.is_null() {
            PyErr_Clear();
            return false;
        }
        let none = std::ptr::addr_of_mut!(_Py_NoneStruct);
        Py_IncRef(none);
        PyList_SetItem(list, 1, none);
        // The size is read first: where it is not in the third word, neither are the items.
        let holds = *(list as *const isize).add(2) == 2
            && (*list_items(list)).is_null()
            && *list_items(list).add(1) == none;
        Py_DecRef(list);
        holds
    })
}

/// References taken to objects, released when this goes (with the GIL held, as it is
/// wherever these functions return).
struct Held(Vec<*mut PyObject>);

impl Drop for Held {
    fn drop(&mut self) {
        // SAFETY: each pointer is an object this holds a reference to; the GIL is held.
        self.0.iter().for_each(|&o| unsafe { Py_DecRef(o) });
    }
}

/// A text as Python holds it: the UTF-8 of a `str` (read in place: no copy for ASCII text,
/// and the string keeps any other's UTF-8 for later calls, as it does for tiktoken), or the
/// bytes of a `bytes`, not yet checked. Valid while the object lives (both kinds are
/// immutable).
#[derive(Clone, Copy)]
enum Text<'a> {
    Str(&'a str),
    Bytes(&'a [u8]),
}

impl<'a> Text<'a> {
    /// The text of `o`; `None` for anything but a `str` or a `bytes`, or for a `str` with a
    /// lone surrogate.
    unsafe fn of(o: *mut PyObject) -> Option<Self> {
        if o.is_null() {
            return None;
        }
        let mut len = 0;
        let text = PyUnicode_AsUTF8AndSize(o, &mut len);
        if !text.is_null() {
            // SAFETY: a str's UTF-8 is valid: CPython encodes it strictly, failing (as
            // handled below) on a lone surrogate. Not checking it again spares a pass.
            let bytes = std::slice::from_raw_parts(text as *const u8, len as usize);
            return Some(Text::Str(std::str::from_utf8_unchecked(bytes)));
        }
        PyErr_Clear();
        let mut data = std::ptr::null_mut();
        if PyBytes_AsStringAndSize(o, &mut data, &mut len) != 0 {
            return None;
        }
        Some(Text::Bytes(std::slice::from_raw_parts(
            data as *const u8,
            len as usize,
        )))
    }

    /// The text as UTF-8; `None` for bytes that are not.
    fn utf8(self) -> Option<&'a str> {
        match self {
            Text::Str(s) => Some(s),
            Text::Bytes(b) => std::str::from_utf8(b).ok(),
        }
    }

    fn bytes(self) -> &'a [u8] {
        match self {
            Text::Str(s) => s.as_bytes(),
            Text::Bytes(b) => b,
        }
    }
}

/// The UTF-8 of a `str`, or of a `bytes` that holds UTF-8 (see [`Text`]).
unsafe fn utf8_of<'a>(o: *mut PyObject) -> Option<&'a str> {
    Text::of(o)?.utf8()
}

/// What `read` makes of each item of the list `texts`, each item held (by the references
/// returned) so that it stays alive while the GIL is released, when another thread could
/// take it out of the list; `None` if `texts` is not a list or `read` fails on an item.
unsafe fn texts_of<T>(
    texts: *mut PyObject,
    read: unsafe fn(*mut PyObject) -> Option<T>,
) -> Option<(Held, Vec<T>)> {
    let n = PyList_Size(texts);
    if n < 0 {
        return None;
    }
    let mut held = Held(Vec::with_capacity(n as usize));
    let mut items = Vec::with_capacity(n as usize);
    for i in 0..n {
        let o = PyList_GetItem(texts, i);
        items.push(read(o)?);
        Py_IncRef(o);
        held.0.push(o);
    }
    Some((held, items))
}

/// `encoder`'s ids of `text` (a `str`, or a `bytes` of UTF-8) as ordinary text, as a list
/// of the int objects at `ints` (`n_ints` addresses, indexed by id, of ints the caller keeps
/// alive); `None` on any failure.
#[no_mangle]
pub unsafe extern "C" fn bpe_py_encode_ordinary(
    encoder: *const bpe_encoder,
    text: *mut PyObject,
    ints: *const *mut PyObject,
    n_ints: usize,
) -> *mut PyObject {
    let table = Table { ints, len: n_ints };
    match encoder.as_ref() {
        Some(encoder) => encode_list(&encoder.encoder, text, table).unwrap_or_else(|| none()),
        None => none(),
    }
}

/// Texts shorter than this are encoded holding the GIL: releasing it and taking it back
/// costs about 20 ns, a tenth of a whole call for one word, while another thread waits at
/// most the microseconds that such a text takes (the GIL is held for 5 ms at a time).
const HOLD_GIL_BELOW: usize = 1024;

/// The list of `encoder`'s ids of `text` as ordinary text, or `None` (an exception may be
/// set) if `text` is neither a `str` nor a `bytes` of UTF-8, or anything fails.
unsafe fn encode_list(
    encoder: &Encoder,
    text: *mut PyObject,
    table: Table,
) -> Option<*mut PyObject> {
    let text = utf8_of(text)?;
    // The caller holds `text` for the whole call, and neither kind of text ever changes.
    ids_list(text.len(), || encoder.encode_ordinary(text), table)
}

/// The ids that `encode` finds in a text of `len` bytes (with the GIL released unless the
/// text is short), or `None` if it fails or panics.
unsafe fn run_encode(
    len: usize,
    encode: impl FnOnce() -> bpe_core::Result<Vec<u32>>,
) -> Option<Vec<u32>> {
    let ids = if len < HOLD_GIL_BELOW {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(encode)).ok()
    } else {
        without_gil(encode)
    };
    ids?.ok()
}

/// The list of the ids that `encode` finds (see [`run_encode`]), or `None`.
unsafe fn ids_list(
    len: usize,
    encode: impl FnOnce() -> bpe_core::Result<Vec<u32>>,
    table: Table,
) -> Option<*mut PyObject> {
    let list = list_of(&run_encode(len, encode)?, table);
    (!list.is_null()).then_some(list)
}

/// A method's entry as CPython reads it (`PyMethodDef`, part of the stable ABI).
#[repr(C)]
struct PyMethodDef {
    name: *const c_char,
    function: unsafe extern "C" fn(*mut PyObject, *mut PyObject) -> *mut PyObject,
    flags: c_int,
    doc: *const c_char,
}

// SAFETY: it is never changed, and its pointers are to static strings.
unsafe impl Sync for PyMethodDef {}

/// One argument, passed as is.
const METH_O: c_int = 0x0008;

/// The builtins that [`bpe_py_function`] makes, by kind.
static FUNCTIONS: [PyMethodDef; 2] = [
    PyMethodDef {
        name: c"encode_ordinary".as_ptr(),
        function: encode_ordinary_bound,
        flags: METH_O,
        doc: c"encode_ordinary(text, /)\n--\n\nEncodes text, treating special tokens in it as ordinary text.".as_ptr(),
    },
    PyMethodDef {
        name: c"decode_bytes".as_ptr(),
        function: decode_bytes_bound,
        flags: METH_O,
        doc: c"decode_bytes(tokens, /)\n--\n\nThe bytes of tokens concatenated (special tokens give their text).".as_ptr(),
    },
];

/// What a function made by [`bpe_py_function`] holds: the encoder itself (not the handle,
/// which the package may free first), the table of ints and a reference to the object that
/// keeps them, and the function it calls for anything it cannot take itself.
struct Bound {
    encoder: Arc<Encoder>,
    table: Table,
    ints: *mut PyObject,
    fallback: *mut PyObject,
}

/// Frees a capsule's [`Bound`]; CPython calls it, holding the GIL, when the capsule goes.
unsafe extern "C" fn free_bound(capsule: *mut PyObject) {
    let bound = PyCapsule_GetPointer(capsule, std::ptr::null()) as *mut Bound;
    if bound.is_null() {
        PyErr_Clear();
        return;
    }
    let bound = Box::from_raw(bound);
    Py_DecRef(bound.ints);
    Py_DecRef(bound.fallback);
}

/// The [`Bound`] in a capsule, or `None` with an exception set.
unsafe fn bound<'a>(capsule: *mut PyObject) -> Option<&'a Bound> {
    (PyCapsule_GetPointer(capsule, std::ptr::null()) as *const Bound).as_ref()
}

/// The body of `encode_ordinary` (see [`bpe_py_function`]).
unsafe extern "C" fn encode_ordinary_bound(
    capsule: *mut PyObject,
    text: *mut PyObject,
) -> *mut PyObject {
    let Some(bound) = bound(capsule) else {
        return std::ptr::null_mut();
    };
    // A subclass of `str` may redefine what its text is; the fallback asks it.
    if is_exact_str(text) {
        if let Some(list) = encode_list(&bound.encoder, text, bound.table) {
            return list;
        }
        PyErr_Clear();
    }
    PyObject_CallFunctionObjArgs(bound.fallback, text, std::ptr::null_mut::<PyObject>())
}

/// The body of `decode_bytes` (see [`bpe_py_function`]).
unsafe extern "C" fn decode_bytes_bound(
    capsule: *mut PyObject,
    tokens: *mut PyObject,
) -> *mut PyObject {
    let Some(bound) = bound(capsule) else {
        return std::ptr::null_mut();
    };
    if let Some(bytes) = ids_of(tokens).and_then(|ids| bound.encoder.decode(&ids).ok()) {
        let bytes = PyBytes_FromStringAndSize(bytes.as_ptr().cast(), bytes.len() as isize);
        if !bytes.is_null() {
            return bytes;
        }
    }
    PyErr_Clear();
    PyObject_CallFunctionObjArgs(bound.fallback, tokens, std::ptr::null_mut::<PyObject>())
}

/// The ids in `tokens`, a `list` or `tuple` of ints that fit in 32 bits; `None` (an
/// exception may be set) for anything else.
unsafe fn ids_of(tokens: *mut PyObject) -> Option<Vec<u32>> {
    let (n, item): (
        isize,
        unsafe extern "C" fn(*mut PyObject, isize) -> *mut PyObject,
    ) = match PyList_Size(tokens) {
        n if n >= 0 => (n, PyList_GetItem),
        _ => {
            PyErr_Clear();
            (PyTuple_Size(tokens), PyTuple_GetItem)
        }
    };
    let mut ids = Vec::with_capacity(n.max(0) as usize);
    for i in 0..n {
        let id = PyLong_AsUnsignedLong(item(tokens, i));
        if id == std::ffi::c_ulong::MAX && !PyErr_Occurred().is_null() {
            return None;
        }
        ids.push(u32::try_from(id).ok()?);
    }
    (n >= 0).then_some(ids)
}

/// A new builtin function for `encoder`, of one kind (its index in [`FUNCTIONS`]):
///
/// - 0: `encode_ordinary(text)`, which does what [`bpe_py_encode_ordinary`] does for an
///   exact `str`;
/// - 1: `decode_bytes(tokens)`, the bytes of a `list` or `tuple` of ids;
///
/// each returning `fallback(argument)` for anything else (another type, a lone surrogate,
/// an unknown id, a failure), which the package makes say what is wrong. A call costs what
/// a call to a builtin does, a fraction of a call through ctypes, which for a short text is
/// most of the work.
///
/// It keeps the encoder (not the handle: freeing that is safe, and leaves the function
/// working), `ints` (the object that keeps the `n_ints` int objects at `table` alive) and
/// `fallback`. `None` on failure, or for an unknown kind.
#[no_mangle]
pub unsafe extern "C" fn bpe_py_function(
    encoder: *const bpe_encoder,
    kind: c_int,
    ints: *mut PyObject,
    table: *const *mut PyObject,
    n_ints: usize,
    fallback: *mut PyObject,
) -> *mut PyObject {
    let (Some(encoder), Some(def)) = (encoder.as_ref(), FUNCTIONS.get(kind as usize)) else {
        return none();
    };
    let bound = Box::into_raw(Box::new(Bound {
        encoder: Arc::clone(&encoder.encoder),
        table: Table {
            ints: table,
            len: n_ints,
        },
        ints,
        fallback,
    }));
    let capsule = PyCapsule_New(bound as *mut c_void, std::ptr::null(), Some(free_bound));
    if capsule.is_null() {
        drop(Box::from_raw(bound));
        return none();
    }
    // Taken now that the capsule's destructor will release them.
    Py_IncRef(ints);
    Py_IncRef(fallback);
    let function = PyCFunction_NewEx(def, capsule, std::ptr::null_mut());
    Py_DecRef(capsule); // the function holds it, or it goes now
    if function.is_null() {
        return none();
    }
    function
}

/// `encoder`'s ids of `text` (a `str`, or a `bytes` of UTF-8), the special tokens named in
/// the list `allowed` (of `str`) becoming their ids (see [`run_encode`]); `None` if either
/// cannot be read, or encoding fails.
unsafe fn encode_allowed(
    encoder: *const bpe_encoder,
    text: *mut PyObject,
    allowed: *mut PyObject,
) -> Option<Vec<u32>> {
    let (encoder, text) = (encoder.as_ref()?, utf8_of(text)?);
    // The names are held while the GIL is released, when another thread could change the
    // list.
    let (_held, names) = texts_of(allowed, utf8_of)?;
    run_encode(text.len(), || {
        encoder.encoder.encode(text, Allowed::Only(&names))
    })
}

/// [`encode_allowed`]'s ids as [`bpe_py_encode_ordinary`] lists them (a special token's id
/// is a new int); `None` on any failure.
#[no_mangle]
pub unsafe extern "C" fn bpe_py_encode(
    encoder: *const bpe_encoder,
    text: *mut PyObject,
    allowed: *mut PyObject,
    ints: *const *mut PyObject,
    n_ints: usize,
) -> *mut PyObject {
    let table = Table { ints, len: n_ints };
    match encode_allowed(encoder, text, allowed).map(|ids| list_of(&ids, table)) {
        Some(list) if !list.is_null() => list,
        _ => none(),
    }
}

/// [`encode_allowed`]'s ids as a `bytearray` of native-endian `uint32` values, for numpy:
/// one copy of the ids, and no int object for any; `None` on any failure.
#[no_mangle]
pub unsafe extern "C" fn bpe_py_encode_array(
    encoder: *const bpe_encoder,
    text: *mut PyObject,
    allowed: *mut PyObject,
) -> *mut PyObject {
    let Some(ids) = encode_allowed(encoder, text, allowed) else {
        return none();
    };
    let bytes = std::mem::size_of_val(ids.as_slice());
    match PyByteArray_FromStringAndSize(ids.as_ptr().cast(), bytes as isize) {
        array if array.is_null() => none(),
        array => array,
    }
}

/// [`bpe_py_encode_ordinary`] for each `str` or `bytes` of the list `texts`, on `threads`
/// threads (0: one per core): a list of lists, or `None` on any failure.
#[no_mangle]
pub unsafe extern "C" fn bpe_py_encode_ordinary_batch(
    encoder: *const bpe_encoder,
    texts: *mut PyObject,
    threads: usize,
    ints: *const *mut PyObject,
    n_ints: usize,
) -> *mut PyObject {
    let table = Table { ints, len: n_ints };
    let Some(encoder) = encoder.as_ref() else {
        return none();
    };
    lists_of_batch(texts, table, |strs, each| {
        encoder.encoder.encode_ordinary_each(strs, threads, each)
    })
}

/// [`bpe_py_encode`] for each `str` or `bytes` of the list `texts`, on `threads` threads
/// (0: one per core): a list of lists, or `None` on any failure.
#[no_mangle]
pub unsafe extern "C" fn bpe_py_encode_batch(
    encoder: *const bpe_encoder,
    texts: *mut PyObject,
    allowed: *mut PyObject,
    threads: usize,
    ints: *const *mut PyObject,
    n_ints: usize,
) -> *mut PyObject {
    let table = Table { ints, len: n_ints };
    let Some(encoder) = encoder.as_ref() else {
        return none();
    };
    let Some((_held, names)) = texts_of(allowed, utf8_of) else {
        return none();
    };
    lists_of_batch(texts, table, |strs, each| {
        encoder
            .encoder
            .encode_each(strs, Allowed::Only(&names), threads, each)
    })
}

/// Where an encoder hands the ids of each text of a batch, by index; it returns whether to
/// go on.
type Each<'a> = &'a (dyn Fn(usize, bpe_core::Result<Vec<u32>>) -> bool + Sync);

/// The list of the lists of ids that `encode_each` finds in the texts of the list `texts`
/// (each a `str` or a `bytes`), handing them to the function it is given; `None` on any
/// failure. NULL, with the exception set, if a signal's handler raised meanwhile: Ctrl-C
/// stops a long batch within a text or two, as it stops tiktoken's.
unsafe fn lists_of_batch(
    texts: *mut PyObject,
    table: Table,
    encode_each: impl FnOnce(&[&str], Each) -> bpe_core::Result<()> + Send,
) -> *mut PyObject {
    let Some((held, strs)) = texts_of(texts, utf8_of) else {
        return none();
    };
    let n = strs.len() as isize;
    let lists = PyList_New(n);
    if lists.is_null() {
        return none();
    }
    // The texts are encoded on the pool's threads while this one, holding the GIL, makes
    // the list of each text as soon as its ids arrive: the two overlap.
    let (sender, results) = std::sync::mpsc::channel();
    let mut complete = true;
    let mut interrupted = false;
    let stop = AtomicBool::new(false);
    let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        std::thread::scope(|scope| {
            let stop = &stop;
            scope.spawn(move || {
                // The sender goes when encoding ends, which ends the receiving too.
                let sender = sender;
                let each = |i, ids| !stop.load(Ordering::Relaxed) && sender.send((i, ids)).is_ok();
                // An error here means no thread could start and nothing was sent, which
                // the receiving below sees as an early end.
                let _ = encode_each(&strs, &each);
            });
            for _ in 0..n {
                let Some(Ok((i, ids))) = without_gil(|| results.recv()) else {
                    complete = false;
                    break;
                };
                // Ctrl-C's handler runs here, between texts, and the encoding starts no
                // more texts (the scope then waits only for those in progress).
                if PyErr_CheckSignals() != 0 {
                    stop.store(true, Ordering::Relaxed);
                    (complete, interrupted) = (false, true);
                    break;
                }
                // After a failure the rest is still received, but no longer listed.
                let list = match ids {
                    Ok(ids) if complete => list_of(&ids, table),
                    _ => std::ptr::null_mut(),
                };
                if list.is_null() {
                    complete = false;
                } else {
                    PyList_SetItem(lists, i as isize, list);
                }
            }
        })
    }));
    drop(held);
    if finished.is_ok() && complete {
        lists
    } else {
        Py_DecRef(lists);
        if interrupted {
            std::ptr::null_mut()
        } else {
            none()
        }
    }
}

/// bpe_trainer_feed() for the list `texts` of `str` (or `bytes`), read in place and counted
/// with the GIL released: the status, as that function returns it (its error message set as
/// it sets it); or -1, with nothing fed, if a text is neither (another type, a lone
/// surrogate): the package then encodes the batch itself, and says which document is at
/// fault.
///
/// ASCII strings, bytes, and strings that already hold their UTF-8 are read where they are.
/// Other strings are read as code points (see [`Wide`]) and encoded to UTF-8 on the
/// trainer's threads, a long one in pieces on every core, so one huge document does not
/// leave them waiting for CPython's encoder.
#[no_mangle]
pub unsafe extern "C" fn bpe_py_trainer_feed(
    trainer: *mut bpe_trainer,
    texts: *mut PyObject,
) -> c_int {
    // Bytes are not checked here: the feed checks every document, on every core, and
    // names the first that is not UTF-8.
    let Some((held, texts)) = texts_of(texts, Document::of) else {
        PyErr_Clear();
        return -1;
    };
    // Made on the trainer's threads, kept here: the feed borrows it, and whether a part
    // held a lone surrogate is read from it afterwards.
    let long = std::sync::OnceLock::new();
    let gather = |trainer: &Trainer| {
        use rayon::prelude::*;
        let long = long.get_or_init(|| LongStrs::cut(&texts, trainer.pretokenizer()));
        let documents = (texts.par_iter().enumerate())
            .map(|(i, text)| match *text {
                Document::Text(text) => Some(Cow::Borrowed(text.bytes())),
                // Its text is in the parts.
                Document::Wide(_) if long.holds(i) => Some(Cow::Borrowed(&[][..])),
                Document::Wide(wide) => wide.to_utf8().map(Cow::Owned),
            })
            .collect::<Option<Vec<_>>>()?;
        Some((documents, long))
    };
    let mut fed = true;
    let status = without_gil(|| {
        guard(|| {
            fed = feed_gathered(trainer, gather)?;
            Ok(())
        })
    });
    drop(held);
    let declined = long
        .get()
        .is_some_and(|l| l.surrogate.load(Ordering::Relaxed));
    match status {
        _ if !fed || declined => -1,
        Some(status) => status as c_int,
        None => bpe_status::BPE_ERROR_PANIC as c_int,
    }
}

/// Code points in each part of a long `str` (see [`LongStrs`]): at most 1 MB to read and
/// to write, which stays in the core's cache between encoding and counting.
const PART_UNITS: usize = 256 << 10;

/// The `str`s of a batch that are not ASCII and at least two parts long, cut where the
/// split pattern always ends a chunk into parts that the counting threads encode to UTF-8
/// just before they count them. Encoded whole, a 100 MB document went to 100 MB of fresh
/// memory, a page fault a page, after a pass over all of it to size the buffer.
struct LongStrs<'a> {
    /// Each part: the document it is of, and its code points.
    parts: Vec<(usize, Wide<'a>)>,
    /// The documents cut into parts, in order.
    documents: Vec<usize>,
    /// Set when a part holds a lone surrogate: the batch is then declined (nothing is fed),
    /// and the package encodes it itself, naming the document.
    surrogate: AtomicBool,
}

impl<'a> LongStrs<'a> {
    fn cut(texts: &[Document<'a>], pretokenizer: &Pretokenizer) -> Self {
        let mut long = LongStrs {
            parts: Vec::new(),
            documents: Vec::new(),
            surrogate: AtomicBool::new(false),
        };
        if !pretokenizer.can_cut() {
            return long;
        }
        for (i, text) in texts.iter().enumerate() {
            let Document::Wide(wide) = *text else {
                continue;
            };
            if wide.len() < 2 * PART_UNITS {
                continue;
            }
            let mut start = 0;
            for cut in cuts(wide, pretokenizer) {
                long.parts.push((i, wide.slice(start..cut)));
                start = cut;
            }
            if start > 0 {
                long.parts.push((i, wide.slice(start..wide.len())));
                long.documents.push(i);
            }
        }
        long
    }

    /// Whether document `i` is in parts.
    fn holds(&self, i: usize) -> bool {
        self.documents.binary_search(&i).is_ok()
    }
}

/// Where `wide` can be cut, in code points: one cut about every [`PART_UNITS`], each found
/// by encoding a few thousand code points there and asking the pretokenizer.
fn cuts(wide: Wide, pretokenizer: &Pretokenizer) -> Vec<usize> {
    const WINDOW: usize = 1 << 12;
    let mut cuts = Vec::new();
    let mut target = PART_UNITS;
    while target + PART_UNITS <= wide.len() {
        let window = wide.slice(target..(target + WINDOW).min(wide.len()));
        // A window with a lone surrogate has no cut: its part fails when it is encoded.
        let cut = window.to_utf8().and_then(|utf8| {
            let text = std::str::from_utf8(&utf8).ok()?;
            let at = pretokenizer.cut_after(text, 0)?;
            Some(text[..at].chars().count())
        });
        match cut {
            Some(n) => {
                cuts.push(target + n);
                target += n + PART_UNITS;
            }
            None => target += WINDOW,
        }
    }
    cuts
}

impl Parts for &LongStrs<'_> {
    type Error = bpe_core::Error;

    fn len(&self) -> usize {
        self.parts.len()
    }

    fn bytes(&self) -> usize {
        self.parts.iter().map(|(_, wide)| wide.len()).sum()
    }

    fn write(
        &self,
        part: usize,
        text: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> bpe_core::Result<u64> {
        let (document, wide) = self.parts[part];
        if wide.append_utf8(text).is_none() {
            self.surrogate.store(true, Ordering::Relaxed);
            return Err(bpe_core::Error::InvalidUtf8 {
                document,
                offset: 0,
            });
        }
        ends.push(text.len());
        // The document was counted once among the batch's documents, as an empty one.
        Ok(0)
    }

    fn error(&self, part: usize, e: bpe_core::Error) -> bpe_core::Error {
        e.in_document(self.parts[part].0)
    }
}

/// A document as the feed reads it: a [`Text`], or the code points of a `str` that is not
/// ASCII and has no UTF-8 yet.
enum Document<'a> {
    Text(Text<'a>),
    Wide(Wide<'a>),
}

impl Document<'_> {
    /// The document in `o`: read as code points if `o` is a `str` (not a subclass), not
    /// ASCII, laid out as [`StrLayout`] found, and not yet holding its UTF-8 (CPython keeps
    /// the UTF-8 a `str` was asked for, as by tiktoken, or by an earlier feed of the same
    /// string); otherwise read as a [`Text`]. Valid while `o` lives: a `str` never changes.
    unsafe fn of(o: *mut PyObject) -> Option<Self> {
        let wide = match StrLayout::found() {
            Some(layout) if is_exact_str(o) => layout.code_points(o).map(|wide| (layout, wide)),
            _ => None,
        };
        match wide {
            Some((layout, wide)) => Some(match layout.utf8(o) {
                Some(utf8) => Document::Text(Text::Str(utf8)),
                None => Document::Wide(wide),
            }),
            None => Text::of(o).map(Document::Text),
        }
    }
}

/// Whether `o` is a `str` itself, not an instance of a subclass.
unsafe fn is_exact_str(o: *mut PyObject) -> bool {
    !o.is_null() && *(o as *const *const PyObject).add(1) == std::ptr::addr_of!(PyUnicode_Type)
}

/// The code points of a `str`, where CPython keeps them: one, two or four bytes each,
/// whichever is the narrowest that holds them all.
#[derive(Clone, Copy)]
enum Wide<'a> {
    One(&'a [u8]),
    Two(&'a [u16]),
    Four(&'a [u32]),
}

impl<'a> Wide<'a> {
    /// The text as UTF-8 (see [`to_utf8`]); `None` if it holds a lone surrogate.
    fn to_utf8(self) -> Option<Vec<u8>> {
        match self {
            Wide::One(units) => to_utf8(units),
            Wide::Two(units) => to_utf8(units),
            Wide::Four(units) => to_utf8(units),
        }
    }

    /// Appends the text to `out` as UTF-8; `None` if it holds a lone surrogate.
    fn append_utf8(self, out: &mut Vec<u8>) -> Option<()> {
        match self {
            Wide::One(units) => append_utf8(units, out),
            Wide::Two(units) => append_utf8(units, out),
            Wide::Four(units) => append_utf8(units, out),
        }
    }

    /// The number of code points.
    fn len(self) -> usize {
        match self {
            Wide::One(units) => units.len(),
            Wide::Two(units) => units.len(),
            Wide::Four(units) => units.len(),
        }
    }

    /// The code points in `range`.
    fn slice(self, range: std::ops::Range<usize>) -> Wide<'a> {
        match self {
            Wide::One(units) => Wide::One(&units[range]),
            Wide::Two(units) => Wide::Two(&units[range]),
            Wide::Four(units) => Wide::Four(&units[range]),
        }
    }
}

/// Where a compact `str` (every `str` CPython makes, as opposed to a subclass's instance)
/// keeps its length, its kind, its code points and the UTF-8 it was asked for. None of it is
/// in the stable ABI, so it is only used where [`StrLayout::found`] checked it against
/// strings made through the API.
#[derive(Clone, Copy)]
struct StrLayout {
    /// The offset of the code points of a string that is not ASCII: the size of
    /// `PyCompactUnicodeObject`, 72 bytes up to CPython 3.11, 56 since 3.12.
    data: usize,
    /// The offset of the pointer to its UTF-8 (NULL until asked for), which follows the
    /// UTF-8's length in bytes: 56 up to CPython 3.11, 48 since 3.12.
    utf8: usize,
}

impl StrLayout {
    /// After the object header (two words), the length in code points, then the hash, then
    /// a word of bits: 2 for interning, 3 for the kind (bytes per code point), 1 for
    /// "compact", 1 for "ASCII".
    const LENGTH: usize = 2;
    const STATE: usize = 4;

    /// The layout this interpreter uses, if it is one of the two known ones.
    fn found() -> Option<Self> {
        static FOUND: std::sync::OnceLock<Option<StrLayout>> = std::sync::OnceLock::new();
        // The later layout is tried first: its header is the shorter, so trying it on an
        // earlier CPython reads inside the probe strings, where the other way round would
        // read past their end.
        // SAFETY: called with the GIL held, as all of this module is.
        *FOUND.get_or_init(|| unsafe {
            [(56, 48), (72, 56)]
                .into_iter()
                .map(|(data, utf8)| StrLayout { data, utf8 })
                .find(|layout| layout.holds())
        })
    }

    /// Whether strings of each kind, made from UTF-8 through the API, read back as the code
    /// points they were made from, with no UTF-8 until it is asked for and then the UTF-8
    /// that CPython returns.
    unsafe fn holds(self) -> bool {
        let probes = ["\u{e9}t\u{e9}", "\u{101}x\u{20ac}", "a\u{1f600}\u{e9}"];
        probes.iter().all(|probe| {
            let o = PyUnicode_FromStringAndSize(probe.as_ptr().cast(), probe.len() as isize);
            if o.is_null() {
                PyErr_Clear();
                return false;
            }
            // UTF-8 stands for each code point alone, so equal UTF-8 means equal code points.
            let read = self.code_points(o).and_then(Wide::to_utf8);
            let mut holds = PyUnicode_GetLength(o) == probe.chars().count() as isize
                && read.as_deref() == Some(probe.as_bytes());
            if holds && self.utf8(o).is_none() {
                let mut len = 0;
                let utf8 = PyUnicode_AsUTF8AndSize(o, &mut len);
                holds = !utf8.is_null()
                    && self.utf8(o).map(|s| (s.as_ptr(), s.len()))
                        == Some((utf8.cast(), len as usize))
                    && self.utf8(o) == Some(*probe);
            } else {
                holds = false;
            }
            PyErr_Clear();
            Py_DecRef(o);
            holds
        })
    }

    /// The UTF-8 that CPython keeps for the `str` `o` (compact, not ASCII), if it has made
    /// it yet.
    unsafe fn utf8<'a>(self, o: *mut PyObject) -> Option<&'a str> {
        let at = (o as *const u8).add(self.utf8);
        let utf8 = *(at as *const *const u8);
        let len = *(at.sub(8) as *const usize);
        // SAFETY: CPython made it with its strict encoder, and keeps it while `o` lives.
        (!utf8.is_null())
            .then(|| std::str::from_utf8_unchecked(std::slice::from_raw_parts(utf8, len)))
    }

    /// The code points of the `str` `o`, if it is compact and not ASCII (ASCII text is its
    /// own UTF-8, which the caller reads in place).
    unsafe fn code_points<'a>(self, o: *mut PyObject) -> Option<Wide<'a>> {
        let words = o as *const isize;
        let len = *words.add(Self::LENGTH) as usize;
        let state = *(words.add(Self::STATE) as *const u32);
        let (kind, compact, ascii) = ((state >> 2) & 7, (state >> 5) & 1, (state >> 6) & 1);
        if compact == 0 || ascii == 1 {
            return None;
        }
        let data = (o as *const u8).add(self.data);
        match kind {
            1 => Some(Wide::One(std::slice::from_raw_parts(data, len))),
            2 => Some(Wide::Two(std::slice::from_raw_parts(data.cast(), len))),
            4 => Some(Wide::Four(std::slice::from_raw_parts(data.cast(), len))),
            _ => None,
        }
    }
}
