/* ingest._json_lines: ingest's JSON (payload version 1) readings fast path in C.
 *
 * lines(payload, gateway, series, fmt[, joined]) -> (lines, n, newest_ms, seq, sent) | None
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
    Cur c = {PyBytes_AS_STRING(payload), PyBytes_AS_STRING(payload) + PyBytes_GET_SIZE(payload)};
    Span gw;
    int64_t seq, sent;
    if (!LIT(&c, "{\"v\":1,\"gateway\":") || !str(&c, &gw) || gw.n != gn ||
        memcmp(gw.s, gs, gn) != 0)
        Py_RETURN_NONE;
    if (!LIT(&c, ",\"seq\":") || !uint_(&c, 18, &seq, NULL)) Py_RETURN_NONE;
    if (!LIT(&c, ",\"sent\":") || !uint_(&c, 13, &sent, NULL)) Py_RETURN_NONE;
    if (sent < MIN_TIME_MS || sent >= MAX_TIME_MS) Py_RETURN_NONE;
    if (!LIT(&c, ",\"readings\":[")) Py_RETURN_NONE;

    PyObject *out = PyList_New(0), *prefix = NULL, *result = NULL;
    Sig *sig = PyMem_Malloc(2 * sizeof(Sig));
    Num *vals = PyMem_Malloc(MAX_FIELDS * sizeof(Num));
    Buf o = {NULL, 0, 0};
    char kinds[MAX_FIELDS];
    int64_t newest = 0;
    int n = 0, ok = 0; /* ok: 1 lines, 0 give up, -1 error */
    /* the lines of a batch in the gateways' layout take about as many bytes as its JSON:
       room for them at once, not a doubling from 256 (each copying what is written) */
    if (!out || !sig || !vals || (joined && !grow(&o, PyBytes_GET_SIZE(payload) + 256))) {
        PyErr_NoMemory();
        ok = -1;
        goto done;
    }
    const char *prefix_s = NULL;
    Py_ssize_t prefix_n = 0;
    int ascii = 1, all_ascii = 1;
    for (;;) {
        Sig *r = &sig[n & 1], *before = &sig[(n & 1) ^ 1];
        int64_t time;
        Span time_text;
        if (n == MAX_READINGS || !reading(&c, r, vals, &time, &time_text)) goto done;
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
            all_ascii &= ascii;
        }
        if (!joined)
            o.n = 0;
        else if (n && !put(&o, "\n", 1))
            goto nomem;
        if (!put(&o, prefix_s, prefix_n)) goto nomem;
        for (int j = 0; j < r->nf; j++) {
            if (j && !put(&o, ",", 1)) goto nomem;
            if (!put(&o, r->keys[j].s, r->keys[j].n) || !put(&o, "=", 1)) goto nomem;
            int done_ = kinds[j] ? count_text(&o, &vals[j]) : float_text(&o, &vals[j], fmt);
            if (done_ <= 0) {
                ok = done_;
                goto done;
            }
        }
        if (!put(&o, " ", 1) || !put(&o, time_text.s, time_text.n)) goto nomem;
        if (time > newest) newest = time;
        n++;
        if (joined) goto next;
        PyObject *line;
        if (ascii) {
            line = PyUnicode_New(o.n, 127);
            if (line) memcpy(PyUnicode_1BYTE_DATA(line), o.b, o.n);
        } else {
            line = PyUnicode_DecodeUTF8(o.b, o.n, "strict");
        }
        if (!line || PyList_Append(out, line) < 0) {
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
    if (joined) {
        Py_DECREF(out);
        if (all_ascii) {
            out = PyUnicode_New(o.n, 127);
            if (out) memcpy(PyUnicode_1BYTE_DATA(out), o.b, o.n);
        } else {
            out = PyUnicode_DecodeUTF8(o.b, o.n, "strict");
        }
        if (!out) {
            ok = -1;
            goto done;
        }
    }
    result = Py_BuildValue("(OiLLL)", out, n, (long long)newest, (long long)seq, (long long)sent);
    ok = result ? 1 : -1;
    goto done;
nomem:
    PyErr_NoMemory();
    ok = -1;
done:
    Py_XDECREF(out);
    Py_XDECREF(prefix);
    PyMem_Free(sig);
    PyMem_Free(vals);
    PyMem_Free(o.b);
    if (ok < 0) return NULL;
    if (ok == 0) Py_RETURN_NONE;
    return result;
}

static PyMethodDef methods[] = {
    {"lines", (PyCFunction)(void (*)(void))lines, METH_FASTCALL,
     "lines(payload, gateway, series, fmt[, joined]) -> (lines, n, newest_ms, seq, sent) or "
     "None; joined true: one str of the lines, '\\n' between them, in place of the list"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_json_lines",
    "JSON readings payloads straight to line protocol (ingest's fast path, in C).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__json_lines(void) { return PyModule_Create(&module); }
