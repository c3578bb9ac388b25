//! For the Python binding only: a batch of lent events made into the binding's `Event`
//! objects in one call, through the CPython functions the binding lends (src/ffi/python.rs).
//!
//! The binding copied a batch into a buffer (`oairun_events_copy`), cut it into one `bytes`
//! per event, decoded each and called `Event(name, data)`: about 4,000 instructions an event,
//! more than the library's own reading and decoding of it. Here each event's data becomes a
//! `str` straight from the event's UTF-8, and the `Event` is made with its class's `tp_alloc`
//! and its four slots written in place, where the probe the binding gives shows them to lie.

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::{Mutex, PoisonError};

use super::event::{event_of, oairun_event};
use super::python::{
    oairun_py_api, own_of, parse_text, table_of, table_of_call, table_of_own, Api, MethodDef,
    Owned, Parsed, Py, Stop, SyncMethodDef, METH_O,
};
use super::{arg_slice, guard, oairun_kind, PanicDefault};
use crate::event::Event;

/// `Py_tp_alloc`, the slot number of `tp_alloc` (typeslots.h, part of the stable ABI).
const PY_TP_ALLOC: c_int = 47;

/// What makes a table's events, and reads their data (see [`oairun_py_api`]).
pub(super) struct EventMaker {
    class: Py,
    alloc: unsafe extern "C" fn(Py, isize) -> Py,
    list_set_item: unsafe extern "C" fn(Py, isize, Py) -> c_int,
    /// Where the `event`, `raw`, `id` and `_data` slots lie, in bytes from the object's start.
    offsets: [usize; 4],
    stop: Py,
    /// What the `data` getter needs, when the table has it all.
    data: Option<DataGetter>,
    /// The name of each kind made so far (`OAIRUN_KIND_UNKNOWN`'s never: such an event's
    /// name is its own), each with a reference of its own, never released.
    names: Mutex<Vec<Py>>,
}

// The objects are only touched with the GIL held (or, without one, as CPython allows).
unsafe impl Send for EventMaker {}
unsafe impl Sync for EventMaker {}

impl EventMaker {
    /// The table's event class, if it has one and its probe shows where each slot lies.
    ///
    /// # Safety
    /// The GIL is held and the table's objects are live; `event_probe` is an object of at
    /// least `event_size` bytes.
    pub(super) unsafe fn of(table: &oairun_py_api) -> Option<EventMaker> {
        const WORD: usize = std::mem::size_of::<Py>();
        let probes = [
            table.probe_event,
            table.probe_raw,
            table.probe_id,
            table.probe_data,
        ];
        if table.event_class.is_null()
            || table.event_probe.is_null()
            || table.stop.is_null()
            || probes.iter().any(|p| p.is_null())
            || table.event_size > 4096
        {
            return None;
        }
        // SAFETY: the probe is an object of event_size bytes (by this function's contract).
        let words = unsafe {
            std::slice::from_raw_parts(table.event_probe.cast::<Py>(), table.event_size / WORD)
        };
        let mut offsets = [0; 4];
        for (offset, probe) in offsets.iter_mut().zip(probes) {
            // Past the header (reference count and type), found exactly once.
            let mut found = words
                .iter()
                .enumerate()
                .skip(2)
                .filter(|(_, &w)| w == probe);
            let (at, _) = found.next()?;
            if found.next().is_some() {
                return None;
            }
            *offset = at * WORD;
        }
        // SAFETY: a live heap type, the GIL held; a tp_alloc slot holds an allocfunc.
        let alloc = unsafe { (table.type_get_slot?)(table.event_class, PY_TP_ALLOC) };
        if alloc.is_null() {
            return None;
        }
        Some(EventMaker {
            class: table.event_class,
            // SAFETY: tp_alloc's type: allocfunc, (PyTypeObject *, Py_ssize_t).
            alloc: unsafe {
                std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Py, isize) -> Py>(alloc)
            },
            list_set_item: table.list_set_item?,
            offsets,
            stop: table.stop,
            data: DataGetter::of(table),
            names: Mutex::default(),
        })
    }

    /// The objects of the table this keeps (a reference each, taken by `oairun_py_parser`).
    pub(super) fn objects(&self) -> impl Iterator<Item = Py> {
        [self.class, self.stop]
            .into_iter()
            .chain(self.data.as_ref().map(|data| data.fallback))
    }

    /// A new reference to the name of the event's kind.
    fn name<'a>(&self, api: &'a Api, event: &Event) -> Result<Owned<'a>, Stop> {
        let kind = oairun_kind::from(event.kind());
        if kind == oairun_kind::OAIRUN_KIND_UNKNOWN {
            return api.str(event.name());
        }
        let index = kind as usize;
        let names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&name) = names.get(index).filter(|name| !name.is_null()) {
            return Ok(api.held(name));
        }
        drop(names); // (no lock held while CPython runs)
        let name = api.str(event.name())?;
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if names.len() <= index {
            names.resize(index + 1, ptr::null_mut());
        }
        if names[index].is_null() {
            names[index] = api.new_ref(name.object);
        }
        Ok(name)
    }

    /// A new reference to an `Event` of the event's name, data and id, its data unparsed.
    fn event(&self, api: &Api, event: &Event) -> Result<Py, Stop> {
        let name = self.name(api, event)?;
        let raw = api.str(event.data())?;
        let id = match event.id() {
            Some(id) => api.str(id)?,
            None => api.held(api.none),
        };
        let data = api.held(api.unparsed);
        // SAFETY: the class's own tp_alloc, the GIL held: a zeroed object (its slots NULL,
        // which its traversal and deallocation skip), tracked by the collector.
        let object = unsafe { (self.alloc)(self.class, 0) };
        if object.is_null() {
            return Err(Stop::Python);
        }
        for (offset, value) in self.offsets.into_iter().zip([name, raw, id, data]) {
            // SAFETY: a slot of the new object (EventMaker::of found it inside the class's
            // basic size), still NULL; the slot takes the reference.
            unsafe {
                object
                    .cast::<u8>()
                    .add(offset)
                    .cast::<Py>()
                    .write(value.into_raw())
            };
        }
        Ok(object)
    }
}

/// For the Python binding only (it calls this through `ctypes.PyDLL`, holding the GIL); not
/// for C programs. Makes the `count` events lent in `events` (by `oairun_reader_next_batch`)
/// into objects of the event class of `parser`'s table, each with its name, its data and its
/// id (or `None`) as `str`, and its `_data` slot the unparsed marker; returns a new reference
/// to a list of `count + 1` items: the table's `stop` object, then the events in reverse
/// order, so that popping from the list's end gives them in the stream's order (the binding
/// iterates with `iter(list.pop, stop)`, and the list holds no event once given).
///
/// `parser` is a function `oairun_py_parser` made, from a table with an event class. Returns
/// NULL when it is not (with the Python error that `PyCFunction_GetSelf` or `PyLong_AsVoidPtr`
/// set on finding so, or none), when `events` is NULL while `count` is not 0, or when some
/// `events[i]` is NULL (no error set); NULL with the Python error set when an object cannot be
/// made (memory). The binding declares it returning `c_void_p`, not `py_object`: ctypes (3.11)
/// crashes on a `py_object` NULL without an error set.
#[no_mangle]
pub unsafe extern "C" fn oairun_py_events(
    parser: *mut c_void,
    events: *const Option<&oairun_event>,
    count: usize,
) -> *mut c_void {
    guard(|| {
        let Some(api) = table_of(parser) else {
            return EventsOut(ptr::null_mut());
        };
        let Some(maker) = api.events.as_ref() else {
            return EventsOut(ptr::null_mut());
        };
        // SAFETY: events is NULL or points to count event pointers, each NULL or lent and
        // valid for the call (as oairun_events_copy's).
        let Ok(events) = (unsafe { arg_slice("events", events, count) }) else {
            return EventsOut(ptr::null_mut());
        };
        let Some(events) = events
            .iter()
            .map(|&event| event_of(event))
            .collect::<Option<Vec<&Event>>>()
        else {
            return EventsOut(ptr::null_mut());
        };
        let Ok(len) = isize::try_from(count + 1) else {
            return EventsOut(ptr::null_mut());
        };
        // SAFETY: the GIL held.
        let Ok(list) = api.owned(unsafe { (api.list_new)(len) }) else {
            return EventsOut(ptr::null_mut());
        };
        // Items still NULL when a failure drops the list are skipped by its deallocation.
        let items = [api.new_ref(maker.stop)]
            .into_iter()
            .map(Ok)
            .chain(events.iter().rev().map(|event| maker.event(api, event)));
        for (at, item) in (0..len).zip(items) {
            let Ok(item) = item else {
                return EventsOut(ptr::null_mut()); // (its error is set; the list is dropped)
            };
            // SAFETY: a new list of len items; the item's reference is stolen.
            if unsafe { (maker.list_set_item)(list.object, at, item) } != 0 {
                return EventsOut(ptr::null_mut());
            }
        }
        EventsOut(list.into_raw())
    })
    .0
}

/// What [`oairun_py_events`] returns: after a panic, NULL (ctypes raises its `ValueError`).
struct EventsOut(Py);

impl PanicDefault for EventsOut {
    fn panic_default() -> Self {
        EventsOut(ptr::null_mut())
    }
}

/// The CPython functions and the fallback of [`oairun_py_data`]'s getter.
struct DataGetter {
    object_type: unsafe extern "C" fn(Py) -> Py,
    is_subtype: unsafe extern "C" fn(Py, Py) -> c_int,
    tuple_set_item: unsafe extern "C" fn(Py, isize, Py) -> c_int,
    call: unsafe extern "C" fn(Py, Py, Py) -> Py,
    fallback: Py,
}

impl DataGetter {
    fn of(table: &oairun_py_api) -> Option<DataGetter> {
        if table.data_fallback.is_null() {
            return None;
        }
        Some(DataGetter {
            object_type: table.object_type?,
            is_subtype: table.type_is_subtype?,
            tuple_set_item: table.tuple_set_item?,
            call: table.call?,
            fallback: table.data_fallback,
        })
    }
}

static DATA: SyncMethodDef = SyncMethodDef(MethodDef {
    name: c"oairun_event_data".as_ptr(),
    method: oairun_py_data_get,
    flags: METH_O,
    doc: c"The event's data, parsed on first access (oairun's src/ffi/python_events.rs).".as_ptr(),
});

/// For the Python binding only (it calls this through `ctypes.PyDLL`, holding the GIL); not
/// for C programs. Returns a new reference to a builtin function of one event, the getter of
/// the event class's `data` property: the event's `_data` slot when it is not the unparsed
/// marker; else its `raw` slot parsed by the parser, kept in `_data` and returned when it is
/// a JSON object without a `response` member; else what the table's `data_fallback` returns
/// when called with the event and the parser's result (the value, or the marker). An object
/// that is not an instance of the event class, or whose slots are not set, goes to the
/// fallback with the marker.
///
/// `parser` is a function `oairun_py_parser` made from a table with an event class and a
/// fallback. Returns NULL when it is not (with the Python error that finding so set, or
/// none); NULL with the Python error set when the function cannot be made (memory).
#[no_mangle]
pub unsafe extern "C" fn oairun_py_data(parser: *mut c_void) -> *mut c_void {
    guard(|| {
        // SAFETY: the GIL held; parser is NULL or the live object the binding passed.
        let own = unsafe { own_of(parser) };
        let Some(api) = (unsafe { table_of_own(own) }) else {
            return EventsOut(ptr::null_mut());
        };
        if api.events.as_ref().and_then(|e| e.data.as_ref()).is_none() {
            return EventsOut(ptr::null_mut());
        }
        // SAFETY: a static PyMethodDef and the parser's live self, which the function keeps a
        // reference to.
        EventsOut(unsafe { (api.cfunction_new)(DATA.as_ptr(), own, ptr::null_mut()) })
    })
    .0
}

/// For the Python binding only: the getter [`oairun_py_data`] returns (`METH_O`: `own` is its
/// self, the parser's, `event` the argument), called by CPython with the GIL held. Returns a
/// new reference, or NULL with the Python error set (by the parse or by the fallback); NULL
/// when either argument is NULL or no parser was ever made. As with `oairun_py_parse`, `own`
/// is trusted to be the getter's self, which CPython passes and nothing can replace.
#[no_mangle]
pub unsafe extern "C" fn oairun_py_data_get(own: *mut c_void, event: *mut c_void) -> *mut c_void {
    guard(|| {
        // SAFETY: the GIL held; own is the getter's self.
        let Some(api) = (unsafe { table_of_call(own, event) }) else {
            return EventsOut(ptr::null_mut());
        };
        let Some(maker) = api.events.as_ref() else {
            return EventsOut(ptr::null_mut());
        };
        let Some(getter) = maker.data.as_ref() else {
            return EventsOut(ptr::null_mut());
        };
        // SAFETY: the GIL held; event is the live argument.
        EventsOut(unsafe { data_of(api, maker, getter, event) })
    })
    .0
}

/// The getter's work, for a live `event` with the GIL held.
unsafe fn data_of(api: &Api, maker: &EventMaker, getter: &DataGetter, event: Py) -> Py {
    let fallback = |value: Py| -> Py {
        // SAFETY: the GIL held; a tuple of two new references, called with the fallback.
        unsafe {
            let args = (api.tuple_new)(2);
            if args.is_null() {
                (api.decref)(value);
                return ptr::null_mut();
            }
            (getter.tuple_set_item)(args, 0, api.new_ref(event));
            (getter.tuple_set_item)(args, 1, value);
            let out = (getter.call)(getter.fallback, args, ptr::null_mut());
            (api.decref)(args);
            out
        }
    };
    // SAFETY: a live object, the GIL held.
    let class = unsafe { (getter.object_type)(event) };
    if class.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: two live types.
    let ours = unsafe { (getter.is_subtype)(class, maker.class) } != 0;
    // SAFETY: the reference object_type gave.
    unsafe { (api.decref)(class) };
    let [_, raw_at, _, data_at] = maker.offsets;
    // SAFETY: an instance of the event class (or of a subclass, which keeps its slots where
    // they are): its slots lie at these offsets.
    let (raw, data) = unsafe {
        let base = event.cast::<u8>();
        (
            base.add(raw_at).cast::<Py>().read(),
            base.add(data_at).cast::<Py>(),
        )
    };
    if !ours || raw.is_null() {
        return fallback(api.new_ref(api.unparsed));
    }
    // SAFETY: the slot of a live event.
    let current = unsafe { data.read() };
    if current.is_null() {
        return fallback(api.new_ref(api.unparsed));
    }
    if current != api.unparsed {
        return api.new_ref(current);
    }
    // SAFETY: raw is the event's live str (or whatever was set there: the parse checks).
    match unsafe { parse_text(api, raw) } {
        Parsed::Value {
            object,
            plain_object: true,
        } => {
            // SAFETY: the slot of a live event, which takes a reference; the marker's is
            // released after (no Python code runs in between: the marker has no finalizer).
            unsafe {
                data.write(api.new_ref(object));
                (api.decref)(current);
            }
            object
        }
        Parsed::Value { object, .. } => fallback(object),
        Parsed::Unparsed => fallback(api.new_ref(api.unparsed)),
        Parsed::Failed => ptr::null_mut(),
    }
}
