/* ingest._compact_lines: the compact (payload version 2) readings body straight to InfluxDB
 * line protocol, in C. The Python twin is ingest/compact_path.py (``_lines``), which says what
 * a line is; the format is telemetry/compact.py and docs/protocol.md (section 2.4).
 *
 * One function, ``lines(body, gateway, series, fmt[, joined])``: *body* is the MessagePack body
 * (after the 3-byte header and the zlib inflation), *series* is ``LineEncoder.series`` (the
 * prefix and the counts of a schema, the names checked there), *fmt* is
 * ``telemetry.mapping.format_float``. It returns ``(lines, n, newest_ms, seq, sent)``, the lines
 * without the meta line (a list of str, or with *joined* true one str with "\n" between
 * them: what the worker holds, telemetry/line_block.py), or None whenever the body is not plainly valid or takes a case this
 * file does not handle: then the Python path decides. The rule: lines come back only for a body
 * whose lines the Python ``_lines`` gives, and they are the same strings (property tests in
 * tests/ingest/test_compact_c.py). So anything in doubt gives None.
 *
 * The MessagePack reader knows only the types that can appear in a valid body (arrays, str,
 * ints up to 64 bits, float32/64, nil for the decimals); anything else (maps, bin, ext, bool,
 * trailing bytes, ...) gives None. Numbers: a decimal's running n, an int sent for a float and
 * the times are exact 64-bit integers (checked arithmetic); the text of ``n / 10**k`` is written
 * here while |n| < 10**15 and the value is at least 1e-5 (msgspec's plain notation: shortest
 * digits are the decimal's own, since a decimal of at most 15 digits is the only one of that
 * length to read back as its double); every other float is printed by *fmt*.
 *
 * Its parts, included here once each: _compact_msgpack.h (the MessagePack reader),
 * _compact_text.h (the work of one call and the text it writes), _compact_body.h (the body's
 * tables and rows).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* (double)n / 10**k is Python's exactly rounded int division only without excess precision. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define EXACT_DOUBLES 1
#else
#define EXACT_DOUBLES 0
#endif

#define MIN_TIME_MS INT64_C(946684800000)
#define MAX_TIME_MS INT64_C(4102444800000)
#define MAX_READINGS 10000
#define MAX_FIELDS 64
#define MAX_TAG_PAIRS 8 /* the contract allows 3 tag keys; more pairs: the Python path */
#define MAX_DECIMALS 9
/* Bounds of what this file reads (a body beyond them is left to the Python path): no valid
 * batch has more schemas than readings, nor more row items than 10,000 readings of 64 fields;
 * a real strings table is far smaller than MAX_STRINGS. */
#define MAX_SCHEMAS MAX_READINGS
#define MAX_STRINGS 65536
#define MAX_ROW_ITEMS (MAX_READINGS * (2 + MAX_FIELDS))
#define EXACT (UINT64_C(1) << 53)
#define EXACT_D 9007199254740992.0
#define PLAIN_LIMIT UINT64_C(1000000000000000) /* 10**15 */

static const int64_t POW10[MAX_DECIMALS + 1] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
static const double POW10_D[MAX_DECIMALS + 1] = {1e0, 1e1, 1e2, 1e3, 1e4,
                                                 1e5, 1e6, 1e7, 1e8, 1e9};

#include "_compact_msgpack.h"
#include "_compact_text.h"
#include "_compact_body.h"

/* The lines: a list of str, or (joined) one str with "\n" between them. */
static PyObject *
build_lines(Work *w, PyObject *fmt, int joined)
{
    PyObject *lines = joined ? NULL : PyList_New(w->n);
    if (!joined && lines == NULL) {
        return NULL;
    }
    Buf *b = &w->line;
    int all_ascii = 1;
    b->len = 0;
    for (Py_ssize_t i = 0; i < w->n; i++) {
        const Reading *reading = &w->readings[i];
        const Schema *s = &w->schemas[reading->schema];
        Column *c = &w->cols[s->col0];
        const Val *v = &w->vals[reading->val0];
        if (!joined) {
            b->len = 0;
        }
        w->ascii = s->ascii;
        if (reserve(b, s->line_max + 1)) { /* then only fmt's texts need more room */
            goto fail;
        }
        if (joined && i > 0) {
            b->p[b->len++] = '\n';
        }
        for (int j = 0; j < s->nfields; j++) {
            memcpy(b->p + b->len, w->keys.p + c[j].key, c[j].key_len);
            b->len += c[j].key_len;
            if (v[j].is_int && c[j].k >= 0) {
                c[j].n += v[j].v.i; /* checked on reading */
            }
            if (c[j].count) {
                /* int(): the truncation of the float (for k = 0, n itself) */
                int64_t x = !v[j].is_int ? (int64_t)v[j].v.d
                            : c[j].k >= 0 ? (int64_t)((double)c[j].n / POW10_D[c[j].k])
                                          : v[j].v.i;
                b->len += put_int(b->p + b->len, x);
                b->p[b->len++] = 'i';
                continue;
            }
            double x;
            if (v[j].is_int) {
                int64_t n = c[j].k >= 0 ? c[j].n : v[j].v.i;
                int k = c[j].k >= 0 ? c[j].k : 0;
                size_t len = put_decimal(b->p + b->len, n, k);
                if (len) {
                    b->len += len;
                    continue;
                }
                x = (double)n / POW10_D[k];
            }
            else {
                x = v[j].v.d;
            }
            if (append_fmt(w, fmt, x, s->line_max)) {
                goto fail;
            }
        }
        b->p[b->len++] = ' ';
        b->len += put_int(b->p + b->len, reading->time);
        if (joined) {
            all_ascii &= w->ascii;
            continue;
        }
        PyObject *line;
        if (w->ascii) {
            line = PyUnicode_New((Py_ssize_t)b->len, 127);
            if (line != NULL) {
                memcpy(PyUnicode_DATA(line), b->p, b->len);
            }
        }
        else {
            line = PyUnicode_DecodeUTF8(b->p, (Py_ssize_t)b->len, NULL);
        }
        if (line == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(lines, i, line);
    }
    if (joined) {
        if (all_ascii) {
            lines = PyUnicode_New((Py_ssize_t)b->len, 127);
            if (lines != NULL) {
                memcpy(PyUnicode_DATA(lines), b->p, b->len);
            }
        }
        else {
            lines = PyUnicode_DecodeUTF8(b->p, (Py_ssize_t)b->len, NULL);
        }
    }
    return lines;
fail:
    Py_XDECREF(lines);
    return NULL;
}

static PyObject *
run(Work *w, const unsigned char *body, Py_ssize_t size, PyObject *gateway, PyObject *series,
    PyObject *fmt, int joined)
{
    Reader r = {body, body + size};
    Py_ssize_t len, gw_len;
    const char *gw, *mine;
    Num seq, sent;
    int64_t t0, unit, newest;
    if (read_array(&r, &len) || len != 7 || read_str(&r, &gw, &gw_len)) {
        return NULL;
    }
    mine = PyUnicode_AsUTF8AndSize(gateway, &len);
    if (mine == NULL || len != gw_len || memcmp(mine, gw, (size_t)len) != 0) {
        return NULL;
    }
    if (read_number(&r, &seq) || seq.kind == N_FLOAT || (seq.kind == N_INT && seq.i < 0) ||
        read_number(&r, &sent) || sent.kind != N_INT || sent.i < MIN_TIME_MS ||
        sent.i >= MAX_TIME_MS || read_tables(&r, w) || read_array(&r, &len) || len != 2 ||
        read_int(&r, &t0) || read_int(&r, &unit) || read_rows(&r, w, t0, unit, &newest) ||
        r.p != r.end || call_series(w, gateway, series)) {
        return NULL;
    }
    PyObject *lines = build_lines(w, fmt, joined);
    if (lines == NULL) {
        return NULL;
    }
    PyObject *seq_obj = seq.kind == N_INT ? PyLong_FromLongLong(seq.i)
                                          : PyLong_FromUnsignedLongLong(seq.u);
    if (seq_obj == NULL) {
        Py_DECREF(lines);
        return NULL;
    }
    return Py_BuildValue("(NnLNL)", lines, w->n, (long long)newest, seq_obj,
                         (long long)sent.i);
}

static PyObject *
compact_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 && nargs != 5) {
        PyErr_Format(PyExc_TypeError, "lines() takes 4 or 5 arguments (%zd given)", nargs);
        return NULL;
    }
    int joined = nargs == 5 ? PyObject_IsTrue(args[4]) : 0;
    if (joined < 0) {
        return NULL;
    }
    if (!PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "lines(): gateway must be a str");
        return NULL;
    }
    if (!EXACT_DOUBLES) {
        Py_RETURN_NONE;
    }
    Py_buffer body;
    if (PyObject_GetBuffer(args[0], &body, PyBUF_SIMPLE)) {
        return NULL;
    }
    Work w;
    memset(&w, 0, sizeof w);
    PyObject *result = run(&w, body.buf, body.len, args[1], args[2], args[3], joined);
    free_work(&w);
    PyBuffer_Release(&body);
    if (result != NULL) {
        return result;
    }
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) { /* KeyboardInterrupt, ... */
            return NULL;
        }
        PyErr_Clear(); /* a bad name, bad UTF-8, no memory, ...: the Python path says */
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(lines_doc,
             "lines(body, gateway, series, fmt[, joined]) -> (lines, n, newest_ms, seq, sent) | None\n\n"
             "The line-protocol lines (no meta line) of a compact readings body (after the\n"
             "header and the inflation), or None when the Python path must decide. With\n"
             "joined true, one str of the lines with '\\n' between them in place of the list.");

static PyMethodDef methods[] = {
    {"lines", (PyCFunction)(void (*)(void))compact_lines, METH_FASTCALL, lines_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "ingest._compact_lines",
    "Compact (payload version 2) readings bodies to line protocol, in C "
    "(the twin of ingest.compact_path._lines).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__compact_lines(void)
{
    return PyModule_Create(&module_def);
}
