//! For the Python binding only: an event's data parsed from JSON straight into Python objects,
//! through the CPython functions the binding lends (`ctypes.pythonapi`).
//!
//! The binding's `Event.data` was `json`'s C scanner with an `object_hook` that copied every
//! JSON object into the binding's `Object` class: about 20,000 instructions for a 122-byte
//! Assistants delta. Here the object is made an `Object` from the start and filled in place,
//! strings are decoded once, and the call is a plain builtin function (`METH_O`), not a ctypes
//! call. The grammar accepted is a strict subset of what `json.loads` accepts, and for it the
//! result is the one `json.loads(text, object_hook=Object)` gives; anything else (`NaN`,
//! `Infinity`, a lone surrogate, an integer of more than 18 digits, nesting deeper than
//! [`MAX_DEPTH`], text that is not JSON) gives back the binding's "unparsed" marker, and the
//! binding then asks `json` itself, for its result or its error.
//!
//! Every function here runs as CPython runs an extension's code, with the GIL held (where the
//! interpreter has one): the binding calls them through a `PyDLL` handle, and the parser is
//! called as a builtin function.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::hash::{BuildHasherDefault, Hasher};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, PoisonError};

use super::python_events::EventMaker;
use super::{guard, PanicDefault};
use crate::json;

/// A `PyObject *`.
pub(super) type Py = *mut c_void;

/// The CPython functions and objects the Python binding lends to [`oairun_py_parser`]: each
/// function pointer is the running interpreter's own (`ctypes.pythonapi`), each object a
/// borrowed reference, which oairun keeps (a new reference) for the life of the process.
/// For the Python binding only.
#[repr(C)]
pub struct oairun_py_api {
    /// `sizeof(oairun_py_api)`, as the caller sees it: a table of another size is refused.
    pub size: usize,
    /// `PyDict_SetItem`.
    pub dict_set_item: Option<unsafe extern "C" fn(Py, Py, Py) -> c_int>,
    /// `PyList_New`.
    pub list_new: Option<unsafe extern "C" fn(isize) -> Py>,
    /// `PyList_Append`.
    pub list_append: Option<unsafe extern "C" fn(Py, Py) -> c_int>,
    /// `PyUnicode_DecodeUTF8`.
    pub unicode_decode_utf8:
        Option<unsafe extern "C" fn(*const c_char, isize, *const c_char) -> Py>,
    /// `PyUnicode_AsUTF8AndSize`.
    pub unicode_as_utf8_and_size: Option<unsafe extern "C" fn(Py, *mut isize) -> *const c_char>,
    /// `PyLong_FromLongLong`.
    pub long_from_long_long: Option<unsafe extern "C" fn(i64) -> Py>,
    /// `PyFloat_FromDouble`.
    pub float_from_double: Option<unsafe extern "C" fn(f64) -> Py>,
    /// `Py_IncRef`.
    pub incref: Option<unsafe extern "C" fn(Py)>,
    /// `Py_DecRef`.
    pub decref: Option<unsafe extern "C" fn(Py)>,
    /// `PyCFunction_NewEx`.
    pub cfunction_new: Option<unsafe extern "C" fn(*mut c_void, Py, Py) -> Py>,
    /// `PyType_GetSlot`.
    pub type_get_slot: Option<unsafe extern "C" fn(Py, c_int) -> *mut c_void>,
    /// `PyTuple_New`.
    pub tuple_new: Option<unsafe extern "C" fn(isize) -> Py>,
    /// `PyErr_Clear`.
    pub err_clear: Option<unsafe extern "C" fn()>,
    /// `PyLong_FromVoidPtr`.
    pub long_from_void_ptr: Option<unsafe extern "C" fn(*mut c_void) -> Py>,
    /// `PyLong_AsVoidPtr`.
    pub long_as_void_ptr: Option<unsafe extern "C" fn(Py) -> *mut c_void>,
    /// `None`, `True` and `False`.
    pub none: Py,
    pub true_: Py,
    pub false_: Py,
    /// The class every JSON object becomes: a `dict` subclass (a heap type) without
    /// `__new__` or `__init__` of its own; each object is made with its `tp_new` and filled
    /// with `PyDict_SetItem`.
    pub object_class: Py,
    /// What the parser returns for a text it leaves to `json`.
    pub unparsed: Py,
    /// `PyList_SetItem` and `PyCFunction_GetSelf`, for [`oairun_py_events`].
    pub list_set_item: Option<unsafe extern "C" fn(Py, isize, Py) -> c_int>,
    pub cfunction_get_self: Option<unsafe extern "C" fn(Py) -> Py>,
    /// The class every event becomes in [`oairun_py_events`] (NULL: the parser makes no
    /// events): a heap type whose instances have four object slots, `event`, `raw`, `id` and
    /// `_data`, and no `__dict__`; each event is made with its `tp_alloc` and its slots filled
    /// (name, data, id or `None`, `unparsed`).
    pub event_class: Py,
    /// `event_class.__basicsize__`.
    pub event_size: usize,
    /// An instance of `event_class` whose four slots hold the four objects that follow, in
    /// that order: where each is found in its memory is where that slot lies (each must be
    /// found once, at an aligned place past the object header, or no events are made).
    pub event_probe: Py,
    pub probe_event: Py,
    pub probe_raw: Py,
    pub probe_id: Py,
    pub probe_data: Py,
    /// The first item of every list [`oairun_py_events`] returns.
    pub stop: Py,
    /// `PyObject_Type`, `PyType_IsSubtype`, `PyTuple_SetItem` and `PyObject_Call`, for the
    /// getter [`oairun_py_data`] makes.
    pub object_type: Option<unsafe extern "C" fn(Py) -> Py>,
    pub type_is_subtype: Option<unsafe extern "C" fn(Py, Py) -> c_int>,
    pub tuple_set_item: Option<unsafe extern "C" fn(Py, isize, Py) -> c_int>,
    pub call: Option<unsafe extern "C" fn(Py, Py, Py) -> Py>,
    /// What the getter calls, with the event and the parser's result (a value, or the
    /// unparsed marker), for what it does not finish itself: data that is not a JSON object
    /// the parser took, or an object with a `response` member.
    pub data_fallback: Py,
}

/// The same table, every function present.
pub(super) struct Api {
    /// The object class's `tp_new` (`dict`'s), called with `no_args`.
    object_new: unsafe extern "C" fn(Py, Py, Py) -> Py,
    /// An empty tuple.
    no_args: Py,
    dict_set_item: unsafe extern "C" fn(Py, Py, Py) -> c_int,
    pub(super) list_new: unsafe extern "C" fn(isize) -> Py,
    pub(super) cfunction_new: unsafe extern "C" fn(*mut c_void, Py, Py) -> Py,
    pub(super) tuple_new: unsafe extern "C" fn(isize) -> Py,
    list_append: unsafe extern "C" fn(Py, Py) -> c_int,
    unicode_decode_utf8: unsafe extern "C" fn(*const c_char, isize, *const c_char) -> Py,
    unicode_as_utf8_and_size: unsafe extern "C" fn(Py, *mut isize) -> *const c_char,
    long_from_long_long: unsafe extern "C" fn(i64) -> Py,
    float_from_double: unsafe extern "C" fn(f64) -> Py,
    pub(super) incref: unsafe extern "C" fn(Py),
    pub(super) decref: unsafe extern "C" fn(Py),
    err_clear: unsafe extern "C" fn(),
    pub(super) none: Py,
    true_: Py,
    false_: Py,
    object_class: Py,
    pub(super) unparsed: Py,
    /// What makes events, when the table has an event class.
    pub(super) events: Option<EventMaker>,
    /// Object keys already made, each with a reference of its own, never released: the same
    /// keys come in every event of a stream, and a key made once is neither decoded nor
    /// hashed again (a `str` keeps its hash). At most [`MAX_KEYS`] keys of at most
    /// [`MAX_KEY_BYTES`] bytes.
    keys: Mutex<Keys>,
}

/// [`Api::keys`]: the keys made, and which came at each place of the last documents.
#[derive(Default)]
struct Keys {
    /// Each key made: its text and its object.
    made: Vec<(Box<str>, Py)>,
    /// Where each key's text is in `made`.
    index: HashMap<Box<str>, usize, BuildHasherDefault<Fnv>>,
    /// Where in `made` is the key last seen as the `n`th key of a document, for the first
    /// [`RECENT_KEYS`]: a stream's events repeat the same keys in the same order, and a
    /// comparison with the key expected there costs less than hashing.
    recent: Vec<usize>,
}

const RECENT_KEYS: usize = 64;

const MAX_KEYS: usize = 1024;
const MAX_KEY_BYTES: usize = 64;

/// FNV-1a: for the short keys of [`Api::keys`], cheaper than the standard SipHash, and the
/// table's size is capped whatever a server sends.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `PyLong_AsVoidPtr`, the same function for every table (a process has one CPython): a
/// parser's `self` is a Python int holding the address of its own table (leaked: a process
/// makes one parser per import of the binding, per interpreter), so that a parser never uses
/// another interpreter's objects.
static AS_VOID_PTR: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// `PyCFunction_GetSelf`, likewise: [`oairun_py_events`] finds a parser's table through it.
static GET_SELF: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// The address of every table [`oairun_py_parser`] made: [`oairun_py_events`] uses a table
/// only once it is found here.
static TABLES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

thread_local! {
    /// The table of the parse running on this thread, for [`PyOut`]'s panic default.
    static PARSING: Cell<*const Api> = const { Cell::new(ptr::null()) };
}

/// Arrays and objects nested deeper than this are left to `json`.
const MAX_DEPTH: u32 = 128;

/// `PyMethodDef`, as CPython lays it out.
#[repr(C)]
pub(super) struct MethodDef {
    pub(super) name: *const c_char,
    pub(super) method: unsafe extern "C" fn(Py, Py) -> Py,
    pub(super) flags: c_int,
    pub(super) doc: *const c_char,
}

/// Its pointers are to static text and a function: nothing in it is ever written.
pub(super) struct SyncMethodDef(pub(super) MethodDef);
unsafe impl Sync for SyncMethodDef {}

impl SyncMethodDef {
    /// The definition's address, as `PyCFunction_NewEx` takes it.
    pub(super) fn as_ptr(&'static self) -> *mut c_void {
        ptr::addr_of!(self.0).cast_mut().cast()
    }
}

/// `METH_O`: a builtin function of one argument.
pub(super) const METH_O: c_int = 0x0008;

static PARSE: SyncMethodDef = SyncMethodDef(MethodDef {
    name: c"oairun_json".as_ptr(),
    method: oairun_py_parse,
    flags: METH_O,
    doc: c"The JSON text's value, or the unparsed marker (oairun's src/ffi/python.rs).".as_ptr(),
});

/// For the Python binding only (it calls this through `ctypes.PyDLL`, holding the GIL); not
/// for C programs. Takes the CPython functions and objects in `api` (the objects are kept,
/// with a new reference each, for the life of the process) and returns a new reference to a
/// builtin function of one `str` argument that parses it as JSON: the value
/// `json.loads(text, object_hook=api->object_class)` gives, or `api->unparsed` for a text it
/// leaves to `json` (see src/ffi/python.rs). Returns NULL, setting no Python error, when
/// `api` is NULL, of another size, or lacks a function or object, and NULL with the Python
/// error set when one of the CPython calls it makes fails (`PyType_GetSlot` on a class that
/// is not a heap type; memory).
#[no_mangle]
pub unsafe extern "C" fn oairun_py_parser(api: *const oairun_py_api) -> *mut c_void {
    guard(|| {
        // SAFETY: by this function's contract, api is NULL or points to a whole table.
        let Some(table) = (unsafe { api.as_ref() }) else {
            return ParserOut(ptr::null_mut());
        };
        let (Some(cfunction_new), Some(from_void_ptr), Some(as_void_ptr)) = (
            table.cfunction_new,
            table.long_from_void_ptr,
            table.long_as_void_ptr,
        ) else {
            return ParserOut(ptr::null_mut());
        };
        let table_get_self = table.cfunction_get_self;
        let Some(api) = Api::of(table) else {
            return ParserOut(ptr::null_mut());
        };
        for object in [
            api.none,
            api.true_,
            api.false_,
            api.object_class,
            api.unparsed,
        ] {
            // SAFETY: live objects, lent with the GIL held.
            unsafe { (api.incref)(object) };
        }
        if let Some(events) = &api.events {
            for object in events.objects() {
                // SAFETY: live objects, lent with the GIL held.
                unsafe { (api.incref)(object) };
            }
        }
        let decref = api.decref;
        let table = Box::into_raw(Box::new(api));
        TABLES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(table as usize);
        // SAFETY: the GIL held.
        let own = unsafe { from_void_ptr(table.cast()) };
        if own.is_null() {
            return ParserOut(ptr::null_mut()); // (its MemoryError is set)
        }
        AS_VOID_PTR.store(as_void_ptr as *mut c_void, Ordering::Release);
        if let Some(get_self) = table_get_self {
            GET_SELF.store(get_self as *mut c_void, Ordering::Release);
        }
        // SAFETY: a static PyMethodDef and a live self, which the function keeps a
        // reference to.
        let parser = unsafe { cfunction_new(PARSE.as_ptr(), own, ptr::null_mut()) };
        // SAFETY: the reference from_void_ptr gave.
        unsafe { decref(own) };
        ParserOut(parser)
    })
    .0
}

/// For the Python binding only: the builtin function [`oairun_py_parser`] returns (`METH_O`:
/// `own` is its self, `text` the argument), called by CPython with the GIL held. Returns a new
/// reference: the value, or the unparsed marker (also for a `text` that is not a `str`, or
/// has no UTF-8 form); NULL with a Python error set when an object cannot be made, and NULL
/// when either argument is NULL or no parser was ever made.
#[no_mangle]
pub unsafe extern "C" fn oairun_py_parse(own: *mut c_void, text: *mut c_void) -> *mut c_void {
    guard(|| {
        // SAFETY: the GIL held; own is the parser's self.
        let Some(api) = (unsafe { table_of_call(own, text) }) else {
            return PyOut(ptr::null_mut());
        };
        // SAFETY: text is the argument CPython passes: a live object.
        PyOut(match unsafe { parse_text(api, text) } {
            Parsed::Value { object, .. } => object,
            Parsed::Unparsed => api.new_ref(api.unparsed),
            Parsed::Failed => ptr::null_mut(),
        })
    })
    .0
}

/// What [`parse_text`] gives.
pub(super) enum Parsed {
    /// A new reference to the value; `plain_object` when it is an object without a
    /// `response` member (an `Object` nothing more is done to).
    Value { object: Py, plain_object: bool },
    /// A text left to `json` (or not a `str`).
    Unparsed,
    /// A CPython call failed; its error is set.
    Failed,
}

/// Parses the `str` `text` with the table's functions.
///
/// # Safety
/// The GIL is held and `text` is a live object.
pub(super) unsafe fn parse_text(api: &Api, text: Py) -> Parsed {
    // (A parse may run inside another on this thread: a collection during an allocation may
    // run Python code that parses.)
    let outer = PARSING.with(|parsing| parsing.replace(api));
    let mut len: isize = 0;
    // SAFETY: a live object (by this function's contract).
    let utf8 = unsafe { (api.unicode_as_utf8_and_size)(text, &mut len) };
    let parsed = if utf8.is_null() {
        // Not a str, or one with a lone surrogate (an Event made by hand): json decides.
        // SAFETY: the GIL held.
        unsafe { (api.err_clear)() };
        Parsed::Unparsed
    } else {
        // SAFETY: CPython's UTF-8 form of the str: len bytes, valid while text lives.
        let bytes = unsafe { std::slice::from_raw_parts(utf8.cast::<u8>(), len as usize) };
        let mut parser = Parser {
            api,
            bytes,
            at: 0,
            top_response: false,
            keys_seen: 0,
        };
        match parser.document() {
            Ok(value) => Parsed::Value {
                object: value.into_raw(),
                plain_object: bytes[json::ws(bytes, 0)] == b'{' && !parser.top_response,
            },
            Err(Stop::Unsupported) => Parsed::Unparsed,
            Err(Stop::Python) => Parsed::Failed,
        }
    };
    PARSING.with(|parsing| parsing.set(outer));
    parsed
}

/// The address held by the int `own` (`PyLong_AsVoidPtr`, as stored from a table), or None
/// when `own` is NULL or no table was ever accepted.
///
/// # Safety
/// The GIL is held; `own` is NULL or a live object.
unsafe fn address_in(own: Py) -> Option<usize> {
    let as_void_ptr = AS_VOID_PTR.load(Ordering::Acquire);
    if own.is_null() || as_void_ptr.is_null() {
        return None;
    }
    // SAFETY: PyLong_AsVoidPtr, stored from a table.
    let as_void_ptr = unsafe {
        std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Py) -> *mut c_void>(as_void_ptr)
    };
    // SAFETY: a live object; not an int: NULL or -1, an error set.
    Some(unsafe { as_void_ptr(own) } as usize)
}

/// The table of a call of the builtin function whose `self` is `own`, with `arg` its
/// argument (`METH_O`): one [`oairun_py_parser`] or [`oairun_py_data`](super::oairun_py_data)
/// made, whose `self` nothing can replace, so it is not looked up among [`TABLES`] (this runs
/// for every parse). None when `arg` is NULL or `own` holds no table.
///
/// # Safety
/// The GIL is held; `own` is NULL or such a function's `self`.
pub(super) unsafe fn table_of_call(own: Py, arg: Py) -> Option<&'static Api> {
    if arg.is_null() {
        return None;
    }
    // SAFETY: own is the int oairun_py_parser made of a leaked table's address.
    unsafe { address_in(own).and_then(|address| (address as *const Api).as_ref()) }
}

/// The `own` int of a parser (its `self`, which the caller may not vouch for): its table,
/// found among [`TABLES`], or None.
///
/// # Safety
/// The GIL is held; `own` is NULL or a live object.
pub(super) unsafe fn table_of_own(own: Py) -> Option<&'static Api> {
    // SAFETY: by this function's contract.
    let address = unsafe { address_in(own) }?;
    let tables = TABLES.lock().unwrap_or_else(PoisonError::into_inner);
    // SAFETY: a table oairun_py_parser made and leaked.
    tables
        .contains(&address)
        .then(|| unsafe { &*(address as *const Api) })
}

/// The `self` of a parser function [`oairun_py_parser`] made, or NULL for another object.
///
/// # Safety
/// The GIL is held; `parser` is NULL or a live object.
pub(super) unsafe fn own_of(parser: Py) -> Py {
    let get_self = GET_SELF.load(Ordering::Acquire);
    if parser.is_null() || get_self.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: PyCFunction_GetSelf, stored from a table.
    let get_self =
        unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Py) -> Py>(get_self) };
    // SAFETY: a live object, the GIL held. Not a builtin function: NULL, an error set.
    unsafe { get_self(parser) }
}

/// The table of a parser [`oairun_py_parser`] made (a builtin function whose self holds its
/// address), or None for any other object. Called with the GIL held.
pub(super) fn table_of(parser: Py) -> Option<&'static Api> {
    // SAFETY: the GIL held; parser is NULL or the live object the binding passed.
    unsafe { table_of_own(own_of(parser)) }
}

/// What [`oairun_py_parser`] returns: after a panic, NULL (the binding then parses with
/// `json`).
struct ParserOut(Py);

impl PanicDefault for ParserOut {
    fn panic_default() -> Self {
        ParserOut(ptr::null_mut())
    }
}

/// What [`oairun_py_parse`] returns: after a panic, the unparsed marker (`json` decides).
struct PyOut(Py);

impl PanicDefault for PyOut {
    fn panic_default() -> Self {
        let api = PARSING.with(|parsing| parsing.get());
        // SAFETY: a leaked table, set by the parse that panicked.
        match unsafe { api.as_ref() } {
            Some(api) => PyOut(api.new_ref(api.unparsed)),
            None => PyOut(ptr::null_mut()),
        }
    }
}

impl Api {
    /// The table's functions and objects, and what is found with them: the object class's
    /// `tp_new` and an empty tuple. Called with the GIL held.
    fn of(table: &oairun_py_api) -> Option<Api> {
        /// `Py_tp_new`, the slot number of `tp_new` (typeslots.h, part of the stable ABI).
        const PY_TP_NEW: c_int = 65;
        if table.size != std::mem::size_of::<oairun_py_api>() {
            return None;
        }
        let objects = [
            table.none,
            table.true_,
            table.false_,
            table.object_class,
            table.unparsed,
        ];
        if objects.iter().any(|object| object.is_null()) {
            return None;
        }
        // SAFETY: a live heap type, the GIL held; a tp_new slot holds a function of this type.
        let object_new = unsafe { (table.type_get_slot?)(table.object_class, PY_TP_NEW) };
        if object_new.is_null() {
            return None;
        }
        // SAFETY: the GIL held.
        let no_args = unsafe { (table.tuple_new?)(0) };
        if no_args.is_null() {
            return None; // (a MemoryError is set: the binding sees NULL and goes on without)
        }
        Some(Api {
            // SAFETY: tp_new's type: newfunc, (PyTypeObject *, PyObject *, PyObject *).
            object_new: unsafe {
                std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Py, Py, Py) -> Py>(
                    object_new,
                )
            },
            no_args,
            dict_set_item: table.dict_set_item?,
            list_new: table.list_new?,
            cfunction_new: table.cfunction_new?,
            tuple_new: table.tuple_new?,
            list_append: table.list_append?,
            unicode_decode_utf8: table.unicode_decode_utf8?,
            unicode_as_utf8_and_size: table.unicode_as_utf8_and_size?,
            long_from_long_long: table.long_from_long_long?,
            float_from_double: table.float_from_double?,
            incref: table.incref?,
            decref: table.decref?,
            err_clear: table.err_clear?,
            none: table.none,
            true_: table.true_,
            false_: table.false_,
            object_class: table.object_class,
            unparsed: table.unparsed,
            // SAFETY: the GIL held; the table's objects are live.
            events: unsafe { EventMaker::of(table) },
            keys: Mutex::default(),
        })
    }

    /// `object`, with a new reference.
    pub(super) fn new_ref(&self, object: Py) -> Py {
        // SAFETY: a live object, the GIL held.
        unsafe { (self.incref)(object) };
        object
    }

    /// A new reference to `object`, owned by the parse.
    pub(super) fn held(&self, object: Py) -> Owned<'_> {
        Owned {
            api: self,
            object: self.new_ref(object),
        }
    }

    /// A new reference from a CPython call: `Stop::Python` (the error is set) when NULL.
    pub(super) fn owned(&self, object: Py) -> Result<Owned<'_>, Stop> {
        if object.is_null() {
            Err(Stop::Python)
        } else {
            Ok(Owned { api: self, object })
        }
    }

    /// An object key: from [`Api::keys`], or made (and kept there while it has room). No
    /// lock is held while CPython runs: an allocation may run a collection, and that Python
    /// code, which may parse again.
    ///
    /// `place` is the key's place in its document (0 for the first key): the key last seen
    /// there is tried first.
    fn key(&self, text: &str, place: usize) -> Result<Owned<'_>, Stop> {
        if text.len() > MAX_KEY_BYTES {
            return self.str(text);
        }
        let known = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .find(text, place);
        if let Some(object) = known {
            return Ok(self.held(object));
        }
        let key = self.str(text)?;
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.made.len() < MAX_KEYS && !keys.index.contains_key(text) {
            let at = keys.made.len();
            keys.made.push((text.into(), self.new_ref(key.object)));
            keys.index.insert(text.into(), at);
            keys.remember(place, at);
        }
        Ok(key)
    }

    pub(super) fn str(&self, text: &str) -> Result<Owned<'_>, Stop> {
        // SAFETY: len bytes of UTF-8; a str's length fits isize.
        self.owned(unsafe {
            (self.unicode_decode_utf8)(
                text.as_ptr().cast(),
                text.len() as isize,
                c"strict".as_ptr(),
            )
        })
    }
}

impl Keys {
    /// The object of the key `text`, if made: the one last seen at `place` when it is that
    /// key, else from the index (and then remembered at `place`).
    fn find(&mut self, text: &str, place: usize) -> Option<Py> {
        if let Some(&at) = self.recent.get(place) {
            let (recent, object) = &self.made[at];
            if **recent == *text {
                return Some(*object);
            }
        }
        let at = *self.index.get(text)?;
        self.remember(place, at);
        Some(self.made[at].1)
    }

    /// Remembers `made[at]` as the key seen at `place`.
    fn remember(&mut self, place: usize, at: usize) {
        if place < self.recent.len() {
            self.recent[place] = at;
        } else if place == self.recent.len() && place < RECENT_KEYS {
            self.recent.push(at);
        }
    }
}

/// A new reference, released when dropped (the parse failed part-way) unless taken.
pub(super) struct Owned<'a> {
    api: &'a Api,
    pub(super) object: Py,
}

impl Owned<'_> {
    pub(super) fn into_raw(self) -> Py {
        let object = self.object;
        std::mem::forget(self);
        object
    }
}

impl Drop for Owned<'_> {
    fn drop(&mut self) {
        // SAFETY: a reference this parse owns, the GIL held.
        unsafe { (self.api.decref)(self.object) };
    }
}

/// Why a parse stopped.
pub(super) enum Stop {
    /// The text is left to `json` (not JSON, or JSON this parser does not take).
    Unsupported,
    /// A CPython call failed; its error is set.
    Python,
}

struct Parser<'a> {
    api: &'a Api,
    bytes: &'a [u8],
    at: usize,
    /// The top object has a `response` member.
    top_response: bool,
    /// Object keys read so far.
    keys_seen: usize,
}

impl<'a> Parser<'a> {
    /// The whole text: one value, with nothing but whitespace around it.
    fn document(&mut self) -> Result<Owned<'a>, Stop> {
        self.at = json::ws(self.bytes, 0);
        let value = self.value(0)?;
        if json::ws(self.bytes, self.at) != self.bytes.len() {
            return Err(Stop::Unsupported);
        }
        Ok(value)
    }

    /// The value at `self.at` (no whitespace before it).
    fn value(&mut self, depth: u32) -> Result<Owned<'a>, Stop> {
        let api = self.api;
        let bytes = self.bytes;
        match bytes.get(self.at) {
            Some(b'"') => self.string(),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", api.true_),
            Some(b'f') => self.literal(b"false", api.false_),
            Some(b'n') => self.literal(b"null", api.none),
            _ => Err(Stop::Unsupported),
        }
    }

    fn literal(&mut self, word: &[u8], object: Py) -> Result<Owned<'a>, Stop> {
        self.at = json::literal_at(self.bytes, self.at, word).ok_or(Stop::Unsupported)?;
        Ok(self.api.held(object))
    }

    /// The string whose opening quote is at `self.at`.
    fn string(&mut self) -> Result<Owned<'a>, Stop> {
        let text = self.string_text()?;
        self.api.str(&text)
    }

    /// The text of the string whose opening quote is at `self.at`, its escapes decoded as
    /// `json` decodes them, except a lone surrogate, which `json` keeps and this leaves to it.
    fn string_text(&mut self) -> Result<Cow<'a, str>, Stop> {
        let start = self.at;
        let (end, escaped) = json::string_at(self.bytes, start).ok_or(Stop::Unsupported)?;
        self.at = end;
        // SAFETY: from the UTF-8 of a str, cut at two ASCII quotes.
        let raw = unsafe { std::str::from_utf8_unchecked(&self.bytes[start..end]) };
        if escaped {
            json::string(raw).ok_or(Stop::Unsupported)
        } else {
            Ok(Cow::Borrowed(&raw[1..raw.len() - 1]))
        }
    }

    /// The number at `self.at`: an int when it has no fraction and no exponent (as `json`
    /// makes it), else a float, the nearest double to the text, as Python's `float()` gives.
    fn number(&mut self) -> Result<Owned<'a>, Stop> {
        let start = self.at;
        let end = json::number_at(self.bytes, start).ok_or(Stop::Unsupported)?;
        self.at = end;
        // SAFETY: ASCII digits, signs, dots and exponents.
        let text = unsafe { std::str::from_utf8_unchecked(&self.bytes[start..end]) };
        let api = self.api;
        if !text.contains(['.', 'e', 'E']) {
            // At most 18 digits fit an i64 whatever they are; longer ones are left to json.
            if text.trim_start_matches('-').len() > 18 {
                return Err(Stop::Unsupported);
            }
            let n: i64 = text.parse().map_err(|_| Stop::Unsupported)?;
            // SAFETY: a plain value, the GIL held.
            return api.owned(unsafe { (api.long_from_long_long)(n) });
        }
        let x: f64 = text.parse().map_err(|_| Stop::Unsupported)?;
        // SAFETY: a plain value, the GIL held.
        api.owned(unsafe { (api.float_from_double)(x) })
    }

    fn array(&mut self, depth: u32) -> Result<Owned<'a>, Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop::Unsupported);
        }
        let api = self.api;
        // SAFETY: the GIL held.
        let list = api.owned(unsafe { (api.list_new)(0) })?;
        self.at = json::ws(self.bytes, self.at + 1);
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(list);
        }
        loop {
            let item = self.value(depth)?;
            // SAFETY: two live objects; append takes its own reference.
            if unsafe { (api.list_append)(list.object, item.object) } != 0 {
                return Err(Stop::Python);
            }
            drop(item);
            if self.closed_after_member(b']')? {
                return Ok(list);
            }
        }
    }

    /// After an array's item or an object's member: a comma (and the whitespace after it),
    /// false; or the closing bracket `close`, true.
    fn closed_after_member(&mut self, close: u8) -> Result<bool, Stop> {
        self.at = json::ws(self.bytes, self.at);
        match self.bytes.get(self.at) {
            Some(b',') => {
                self.at = json::ws(self.bytes, self.at + 1);
                Ok(false)
            }
            Some(&b) if b == close => {
                self.at += 1;
                Ok(true)
            }
            _ => Err(Stop::Unsupported),
        }
    }

    fn object(&mut self, depth: u32) -> Result<Owned<'a>, Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop::Unsupported);
        }
        let api = self.api;
        // SAFETY: the class's own tp_new, with the arguments of a call with none (its
        // __init__ is dict's, which does nothing then), the GIL held.
        let object =
            api.owned(unsafe { (api.object_new)(api.object_class, api.no_args, ptr::null_mut()) })?;
        self.at = json::ws(self.bytes, self.at + 1);
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(object);
        }
        loop {
            if self.bytes.get(self.at) != Some(&b'"') {
                return Err(Stop::Unsupported);
            }
            let key = self.string_text()?;
            if depth == 1 && key == "response" {
                self.top_response = true;
            }
            let key = self.api.key(&key, self.keys_seen)?;
            self.keys_seen += 1;
            self.at = json::ws(self.bytes, self.at);
            if self.bytes.get(self.at) != Some(&b':') {
                return Err(Stop::Unsupported);
            }
            self.at = json::ws(self.bytes, self.at + 1);
            let value = self.value(depth)?;
            // SAFETY: three live objects; the dict takes its own references. A repeated key
            // keeps its first place and takes the last value, as json's dict does.
            if unsafe { (api.dict_set_item)(object.object, key.object, value.object) } != 0 {
                return Err(Stop::Python);
            }
            drop((key, value));
            if self.closed_after_member(b'}')? {
                return Ok(object);
            }
        }
    }
}
