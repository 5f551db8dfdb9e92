/* ingest._json_lines: ingest's JSON (payload version 1) readings fast path in C.
 *
 * lines(payload, gateway, series, fmt) -> (lines, n, newest_ms, seq, sent) | None
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

typedef struct {
    const char *p;
    const char *end;
} Cur;

typedef struct {
    const char *s;
    Py_ssize_t n;
} Span;

/* A literal at the cursor: advance past it, else 0. */
static int lit(Cur *c, const char *text, Py_ssize_t n) {
    if (c->end - c->p < n || memcmp(c->p, text, n) != 0) return 0;
    c->p += n;
    return 1;
}
#define LIT(c, text) lit((c), (text), (Py_ssize_t)(sizeof(text) - 1))

/* A string without escapes or control characters: its bytes between the quotes. */
static int str(Cur *c, Span *out) {
    if (c->p >= c->end || *c->p != '"') return 0;
    const char *s = ++c->p;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            out->s = s;
            out->n = c->p - s;
            c->p++;
            return 1;
        }
        if (ch == '\\' || ch < 0x20) return 0;
        c->p++;
    }
    return 0;
}

/* A non-negative integer of at most *digits* digits, no leading zero. */
static int uint_(Cur *c, int digits, int64_t *out, Span *text) {
    const char *s = c->p;
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (c->p - s >= digits) return 0;
        v = v * 10 + (*c->p - '0');
        c->p++;
    }
    Py_ssize_t n = c->p - s;
    if (n == 0 || (n > 1 && *s == '0')) return 0;
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')) return 0;
    *out = v;
    if (text) {
        text->s = s;
        text->n = n;
    }
    return 1;
}

/* A JSON number without exponent: -?(0|[1-9][0-9]*)(.[0-9]+)? */
typedef struct {
    const char *s;      /* the whole text */
    Py_ssize_t n;
    int neg;
    const char *ip;     /* integer part */
    Py_ssize_t in;
    const char *fp;     /* fraction digits, trailing zeros dropped (fn may be 0) */
    Py_ssize_t fn;
    int has_frac;
} Num;

static int number(Cur *c, Num *x) {
    const char *s = c->p;
    x->neg = 0;
    if (c->p < c->end && *c->p == '-') {
        x->neg = 1;
        c->p++;
    }
    x->ip = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    x->in = c->p - x->ip;
    if (x->in == 0 || (x->in > 1 && *x->ip == '0')) return 0;
    x->has_frac = 0;
    x->fp = c->p;
    x->fn = 0;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        x->fp = c->p;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
        x->fn = c->p - x->fp;
        if (x->fn == 0) return 0;
        x->has_frac = 1;
        while (x->fn > 0 && x->fp[x->fn - 1] == '0') x->fn--;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) return 0;
    x->s = s;
    x->n = c->p - s;
    return 1;
}

/* Output buffer. */
typedef struct {
    char *b;
    Py_ssize_t n, cap;
} Buf;

static int put(Buf *o, const char *s, Py_ssize_t n) {
    if (o->n + n > o->cap) {
        Py_ssize_t cap = o->cap ? o->cap : 256;
        while (cap < o->n + n) cap *= 2;
        char *b = PyMem_Realloc(o->b, cap);
        if (!b) return 0;
        o->b = b;
        o->cap = cap;
    }
    memcpy(o->b + o->n, s, n);
    o->n += n;
    return 1;
}

/* Texts fmt wrote, by the number's text: a sensor's values repeat (a register times a
   scale), and reading and printing a long number costs several times parsing a reading.
   Direct-mapped, overwritten on a collision; used under the GIL only. */
#define CACHE_SLOTS 4096
#define CACHE_TEXT 32
typedef struct {
    unsigned char kn, vn; /* 0: empty */
    char key[CACHE_TEXT], val[CACHE_TEXT];
} Slot;
static Slot cache[CACHE_SLOTS];

static uint32_t hash(const char *s, Py_ssize_t n) {
    uint32_t h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Read a number's text as a double and write it by fmt: 1 done, 0 give up, -1 error. */
static int formatted(Buf *o, const Num *x, PyObject *fmt) {
    Slot *slot = NULL;
    if (x->n <= CACHE_TEXT) {
        slot = &cache[hash(x->s, x->n) & (CACHE_SLOTS - 1)];
        if (slot->kn == x->n && memcmp(slot->key, x->s, x->n) == 0)
            return put(o, slot->val, slot->vn) ? 1 : -1;
    }
    char small[64];
    char *text = x->n < (Py_ssize_t)sizeof(small) ? small : PyMem_Malloc(x->n + 1);
    if (!text) return -1;
    memcpy(text, x->s, x->n);
    text[x->n] = 0;
    double d = PyOS_string_to_double(text, NULL, NULL);
    if (text != small) PyMem_Free(text);
    if (d == -1.0 && PyErr_Occurred()) return -1;
    if (!isfinite(d)) return 0;
    PyObject *f = PyFloat_FromDouble(d);
    if (!f) return -1;
    PyObject *t = PyObject_CallOneArg(fmt, f);
    Py_DECREF(f);
    if (!t) return -1;
    Py_ssize_t tn = 0;
    const char *ts = PyUnicode_Check(t) ? PyUnicode_AsUTF8AndSize(t, &tn) : NULL;
    int ok = ts != NULL && put(o, ts, tn);
    if (ok && slot && tn > 0 && tn <= CACHE_TEXT) {
        slot->kn = 0; /* a slot is never half written: empty until both texts are in */
        memcpy(slot->key, x->s, x->n);
        memcpy(slot->val, ts, tn);
        slot->vn = (unsigned char)tn;
        slot->kn = (unsigned char)x->n;
    }
    Py_DECREF(t);
    if (!ok && !PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "fmt must return a str");
    return ok ? 1 : -1;
}

/* A float field's text: 1 done, 0 give up (None), -1 Python error. */
static int float_text(Buf *o, const Num *x, PyObject *fmt) {
    int zero_int = x->in == 1 && *x->ip == '0';
    Py_ssize_t lead = 0; /* zeros after the point before the first digit of 0.xxx */
    if (zero_int)
        while (lead < x->fn && x->fp[lead] == '0') lead++;
    Py_ssize_t sig = (zero_int ? 0 : x->in) + x->fn - lead;
    int is_zero = zero_int && x->fn == 0;
    if (sig <= 15 && (is_zero || !zero_int || lead <= 3)) {
        /* -0 is the integer 0, so 0.0; -0.0 keeps its sign (as msgspec reads them) */
        if (x->neg && !(is_zero && !x->has_frac) && !put(o, "-", 1)) return -1;
        if (!put(o, x->ip, x->in) || !put(o, ".", 1)) return -1;
        if (!(x->fn ? put(o, x->fp, x->fn) : put(o, "0", 1))) return -1;
        return 1;
    }
    if (!x->has_frac) return 0; /* an integer of over 15 digits: the Python path */
    return formatted(o, x, fmt);
}

/* A count's text (<digits>i): 1 done, 0 give up, -1 error. */
static int count_text(Buf *o, const Num *x) {
    if (x->has_frac || x->in > 15) return 0;
    if (x->neg && x->in == 1 && *x->ip == '0') return 0; /* -0 */
    if (x->neg && !put(o, "-", 1)) return -1;
    if (!put(o, x->ip, x->in) || !put(o, "i", 1)) return -1;
    return 1;
}

static int same(Span a, Span b) { return a.n == b.n && memcmp(a.s, b.s, a.n) == 0; }

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
    if (!out || !sig || !vals) {
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
