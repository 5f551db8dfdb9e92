/* ingest._json_lines: ingest's JSON (payload version 1) readings fast path in C.
 *
 * lines(payload, gateway, series, fmt[, joined]) -> (lines, n, newest_ms, seq, sent) | None
 *
 * take(...): many whole PUBLISH packets of a receive buffer at once; see _json_take.h.
 *
 * lines is a list of str, or with joined true one str with "\n" between the lines (what the
 * worker holds: telemetry/line_block.py). The scanner is _json_scan.h, the texts written
 * _json_text.h (both included here, once).
 *
 * Reads a readings batch in the layout gateways write (telemetry.codec.encode_batch: no
 * whitespace, the model's key order, strings without escapes, numbers without exponent) and
 * gives the line-protocol lines of its readings (the meta line is the caller's). Anything
 * else gives None and the Python path judges the payload (ingest/pipeline.py): this path
 * only ever accepts what that path accepts, with the same lines (property tests in
 * tests/ingest/test_json_c.py).
 *
 * Names are checked by series(gateway, sensor, measurement, names, tags), the LineEncoder's
 * cache (telemetry/line_encoder.py), called when a reading's series differs from the one
 * before; it returns (prefix, kinds) or raises (InvalidName): then None. Numbers: a number
 * of at most 15 significant digits, at least 1e-4 (or 0), is written as its own digits
 * (trailing zeros of the fraction dropped; an integer gets ".0"): a decimal of at most 15
 * digits is the only one that reads as its double, so the shortest round-trip text is those
 * digits, which is what format_float writes. Any other number is read as a double and
 * written by fmt (format_float). Counts (kinds[j] true) must be integers of at most 15
 * digits, written as <digits>i; anything else in a count gives None.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MIN_TIME_MS 946684800000LL
#define MAX_TIME_MS 4102444800000LL
#define MAX_READINGS 10000
#define MAX_FIELDS 64

#include "_json_scan.h"
#include "_json_text.h"

/* Two names of a few bytes each (a byte loop: memcmp's call costs more than they do). */
static inline int same(Span a, Span b) {
    if (a.n != b.n) return 0;
    for (Py_ssize_t i = 0; i < a.n; i++)
        if (a.s[i] != b.s[i]) return 0;
    return 1;
}

static PyObject *text(Span s) { return PyUnicode_DecodeUTF8(s.s, s.n, "strict"); }

#define MAX_TAGS 16

typedef struct {
    Span sensor, measurement, tags; /* tags.s NULL: no tags key */
    Span keys[MAX_FIELDS];
    int nf;
    Span tag[2 * MAX_TAGS];
    int nt;
} Sig;

/* The series of *r* by series(): prefix (new reference) and kinds into *kinds*; 1 done,
   0 give up (a name the contract refuses, a repeated name), -1 error. */
static int lookup(const Sig *r, PyObject *gateway, PyObject *series, PyObject **prefix,
                  char *kinds) {
    for (int i = 0; i < r->nf; i++)
        for (int j = 0; j < i; j++)
            if (same(r->keys[i], r->keys[j])) return 0;
    for (int i = 0; i < r->nt; i += 2)
        for (int j = 0; j < i; j += 2)
            if (same(r->tag[i], r->tag[j])) return 0;
    PyObject *names = NULL, *tags = NULL, *sensor = NULL, *measurement = NULL;
    PyObject *result = NULL;
    int status = -1;
    /* one at a time: no call with an exception already set */
    if (!(names = PyList_New(r->nf)) || !(tags = PyDict_New())) goto done;
    if (!(sensor = text(r->sensor)) || !(measurement = text(r->measurement))) goto done;
    for (int i = 0; i < r->nf; i++) {
        PyObject *name = text(r->keys[i]);
        if (!name) goto done;
        PyList_SET_ITEM(names, i, name);
    }
    for (int i = 0; i < r->nt; i += 2) {
        PyObject *k = text(r->tag[i]), *v = k ? text(r->tag[i + 1]) : NULL;
        int bad = !k || !v || PyDict_SetItem(tags, k, v) < 0;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (bad) goto done;
    }
    result = PyObject_CallFunctionObjArgs(series, gateway, sensor, measurement, names, tags,
                                          NULL);
    if (!result) goto done;
    if (!PyTuple_Check(result) || PyTuple_GET_SIZE(result) != 2 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(result, 0))) {
        PyErr_SetString(PyExc_TypeError, "series must return (prefix, kinds)");
        goto done;
    }
    PyObject *k = PyTuple_GET_ITEM(result, 1);
    if (k == Py_None) {
        memset(kinds, 0, MAX_FIELDS);
    } else if (PyTuple_Check(k) && PyTuple_GET_SIZE(k) == r->nf) {
        for (int i = 0; i < r->nf; i++) kinds[i] = PyTuple_GET_ITEM(k, i) == Py_True;
    } else {
        PyErr_SetString(PyExc_TypeError, "series: kinds must be None or one per field");
        goto done;
    }
    *prefix = Py_NewRef(PyTuple_GET_ITEM(result, 0));
    status = 1;
done:
    if (status < 0 && PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear(); /* InvalidName, a bad UTF-8 name: the Python path says what */
        status = 0;
    }
    Py_XDECREF(result);
    Py_XDECREF(names);
    Py_XDECREF(tags);
    Py_XDECREF(sensor);
    Py_XDECREF(measurement);
    return status;
}

/* One reading from its '{' to its '}': 1 read, 0 give up. */
static int reading(Cur *c, Sig *r, Num *vals, int64_t *time, Span *time_text) {
    if (!LIT(c, "{\"sensor\":") || !str(c, &r->sensor)) return 0;
    if (!LIT(c, ",\"measurement\":") || !str(c, &r->measurement)) return 0;
    if (!LIT(c, ",\"time\":") || !uint_(c, 13, time, time_text)) return 0;
    if (*time < MIN_TIME_MS || *time >= MAX_TIME_MS) return 0;
    if (!LIT(c, ",\"fields\":{")) return 0;
    r->nf = 0;
    for (;;) {
        if (r->nf == MAX_FIELDS) return 0;
        if (!str(c, &r->keys[r->nf]) || !LIT(c, ":") || !number(c, &vals[r->nf])) return 0;
        r->nf++;
        if (LIT(c, ",")) continue;
        if (LIT(c, "}")) break;
        return 0;
    }
    r->nt = 0;
    r->tags.s = NULL;
    r->tags.n = 0;
    if (LIT(c, ",\"tags\":{")) {
        r->tags.s = c->p;
        if (!LIT(c, "}")) {
            for (;;) {
                if (r->nt == 2 * MAX_TAGS) return 0;
                if (!str(c, &r->tag[r->nt]) || !LIT(c, ":") || !str(c, &r->tag[r->nt + 1]))
                    return 0;
                r->nt += 2;
                if (LIT(c, ",")) continue;
                if (LIT(c, "}")) break;
                return 0;
            }
        }
        r->tags.n = c->p - r->tags.s;
    }
    return LIT(c, "}");
}

static int same_series(const Sig *a, const Sig *b) {
    if (a->nf != b->nf || !same(a->sensor, b->sensor) || !same(a->measurement, b->measurement))
        return 0;
    if ((a->tags.s == NULL) != (b->tags.s == NULL)) return 0;
    if (a->tags.s && !same(a->tags, b->tags)) return 0;
    for (int i = 0; i < a->nf; i++)
        if (!same(a->keys[i], b->keys[i])) return 0;
    return 1;
}

/* A str of *n* bytes of UTF-8 at *s* (ascii: known to be ASCII, copied as is). */
static PyObject *utf8_text(const char *s, Py_ssize_t n, int ascii) {
    if (!ascii) return PyUnicode_DecodeUTF8(s, n, "strict");
    PyObject *t = PyUnicode_New(n, 127);
    if (t) memcpy(PyUnicode_1BYTE_DATA(t), s, n);
    return t;
}

/* What convert() read besides the lines. */
typedef struct {
    int n;                 /* readings */
    int all_ascii;         /* every line is ASCII */
    int64_t newest, seq, sent;
} Done;

/* Scratch of convert(): the signatures of a reading and the one before, its values. */
typedef struct {
    Sig sig[2];
    Num vals[MAX_FIELDS];
} Work;

/* The lines of the JSON batch in [p, end), whose gateway must be *gateway* (its UTF-8 gs, gn),
   written after what *o* holds: with *list* NULL, "\n" between them (none before the first
   or after the last); else each line is appended to *list* as a str (o is scratch). 1 done,
   0 give up (*o* may hold part of the lines: the caller drops them), -1 error. */
static int convert(const char *p, const char *end, PyObject *gateway, const char *gs,
                   Py_ssize_t gn, PyObject *series, PyObject *fmt, Work *w, Buf *o,
                   PyObject *list, Done *d) {
    Cur c = {p, end};
    Span gw;
    if (!LIT(&c, "{\"v\":1,\"gateway\":") || !str(&c, &gw) || gw.n != gn ||
        memcmp(gw.s, gs, gn) != 0)
        return 0;
    if (!LIT(&c, ",\"seq\":") || !uint_(&c, 18, &d->seq, NULL)) return 0;
    if (!LIT(&c, ",\"sent\":") || !uint_(&c, 13, &d->sent, NULL)) return 0;
    if (d->sent < MIN_TIME_MS || d->sent >= MAX_TIME_MS) return 0;
    if (!LIT(&c, ",\"readings\":[")) return 0;

    PyObject *prefix = NULL;
    char kinds[MAX_FIELDS];
    int n = 0, ok = 0; /* ok: 1 lines, 0 give up, -1 error */
    const char *prefix_s = NULL;
    Py_ssize_t prefix_n = 0;
    int ascii = 1;
    d->all_ascii = 1;
    d->newest = 0;
    for (;;) {
        Sig *r = &w->sig[n & 1], *before = &w->sig[(n & 1) ^ 1];
        int64_t time;
        Span time_text;
        if (n == MAX_READINGS || !reading(&c, r, w->vals, &time, &time_text)) goto done;
        if (prefix == NULL || !same_series(r, before)) {
            Py_CLEAR(prefix);
            ok = lookup(r, gateway, series, &prefix, kinds);
            if (ok <= 0) goto done;
            ok = 0;
            prefix_s = PyUnicode_AsUTF8AndSize(prefix, &prefix_n);
            if (!prefix_s) {
                ok = -1;
                goto done;
            }
            ascii = PyUnicode_IS_ASCII(prefix);
            d->all_ascii &= ascii;
        }
        if (list)
            o->n = 0;
        else if (n && !put(o, "\n", 1))
            goto nomem;
        if (!put(o, prefix_s, prefix_n)) goto nomem;
        for (int j = 0; j < r->nf; j++) {
            if (j && !put(o, ",", 1)) goto nomem;
            if (!put(o, r->keys[j].s, r->keys[j].n) || !put(o, "=", 1)) goto nomem;
            int done_ = kinds[j] ? count_text(o, &w->vals[j]) : float_text(o, &w->vals[j], fmt);
            if (done_ <= 0) {
                ok = done_;
                goto done;
            }
        }
        if (!put(o, " ", 1) || !put(o, time_text.s, time_text.n)) goto nomem;
        if (time > d->newest) d->newest = time;
        n++;
        if (!list) goto next;
        PyObject *line = utf8_text(o->b, o->n, ascii);
        if (!line || PyList_Append(list, line) < 0) {
            Py_XDECREF(line);
            ok = -1;
            goto done;
        }
        Py_DECREF(line);
    next:
        if (LIT(&c, ",")) continue;
        if (LIT(&c, "]")) break;
        goto done;
    }
    if (!LIT(&c, "}") || c.p != c.end) goto done;
    d->n = n;
    ok = 1;
    goto done;
nomem:
    PyErr_NoMemory();
    ok = -1;
done:
    Py_XDECREF(prefix);
    return ok;
}

static PyObject *lines(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4 && nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "lines(payload, gateway, series, fmt[, joined])");
        return NULL;
    }
    PyObject *payload = args[0], *gateway = args[1], *series = args[2], *fmt = args[3];
    int joined = nargs == 5 ? PyObject_IsTrue(args[4]) : 0; /* one text, "\n" between lines */
    if (joined < 0) return NULL;
    if (!PyBytes_Check(payload) || !PyUnicode_Check(gateway)) Py_RETURN_NONE;
    Py_ssize_t gn;
    const char *gs = PyUnicode_AsUTF8AndSize(gateway, &gn);
    if (!gs) return NULL;
    const char *p = PyBytes_AS_STRING(payload);
    Py_ssize_t size = PyBytes_GET_SIZE(payload);
    PyObject *out = joined ? NULL : PyList_New(0), *result = NULL;
    Work *w = PyMem_Malloc(sizeof(Work));
    Buf o = {NULL, 0, 0};
    Done d;
    int ok = -1;
    /* the lines of a batch in the gateways' layout take about as many bytes as its JSON:
       room for them at once, not a doubling from 256 (each copying what is written) */
    if ((!joined && !out) || !w || !grow(&o, size + 256)) {
        PyErr_NoMemory();
        goto done;
    }
    ok = convert(p, p + size, gateway, gs, gn, series, fmt, w, &o, out, &d);
    if (ok <= 0) goto done;
    if (joined && !(out = utf8_text(o.b, o.n, d.all_ascii))) {
        ok = -1;
        goto done;
    }
    result = Py_BuildValue("(OiLLL)", out, d.n, (long long)d.newest, (long long)d.seq,
                           (long long)d.sent);
    ok = result ? 1 : -1;
done:
    Py_XDECREF(out);
    PyMem_Free(w);
    PyMem_Free(o.b);
    if (ok < 0) return NULL;
    if (ok == 0) Py_RETURN_NONE;
    return result;
}

#include "_json_take.h"

static PyMethodDef methods[] = {
    {"lines", (PyCFunction)(void (*)(void))lines, METH_FASTCALL,
     "lines(payload, gateway, series, fmt[, joined]) -> (lines, n, newest_ms, seq, sent) or "
     "None; joined true: one str of the lines, '\\n' between them, in place of the list"},
    {"take", (PyCFunction)(void (*)(void))take, METH_FASTCALL,
     "take(buf, pos, room, max_lines, limit, topics, series, fmt, compact, inflate) -> (pos, "
     "text, lines, readings, newest_ms, mids, parts) or None: the readings messages at the "
     "head of a receive buffer, many at once (ingest/_json_take.h)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_json_lines",
    "JSON readings payloads straight to line protocol (ingest's fast path, in C).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__json_lines(void) { return PyModule_Create(&module); }
