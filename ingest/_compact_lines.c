/* ingest._compact_lines: the compact (payload version 2) readings body straight to InfluxDB
 * line protocol, in C. The Python twin is ingest/compact_path.py (``_lines``), which says what
 * a line is; the format is telemetry/compact.py and docs/protocol.md (section 2.4).
 *
 * One function, ``lines(body, gateway, series, fmt)``: *body* is the MessagePack body (after
 * the 3-byte header and the zlib inflation), *series* is ``LineEncoder.series`` (the prefix
 * and the counts of a schema, the names checked there), *fmt* is
 * ``telemetry.mapping.format_float``. It returns ``(lines, n, newest_ms, seq, sent)``, the lines
 * without the meta line, or None whenever the body is not plainly valid or takes a case this
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

/* -- MessagePack ------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
} Reader;

enum { N_INT, N_BIG, N_FLOAT };

typedef struct {
    int kind;   /* N_INT: i; N_BIG: u (a uint64 beyond int64); N_FLOAT: d */
    int64_t i;
    uint64_t u;
    double d;
} Num;

typedef struct {
    union {
        int64_t i;
        double d;
    } v;
    int is_int;
} Val;

static uint64_t
be(const unsigned char *p, int size)
{
    uint64_t x = 0;
    for (int k = 0; k < size; k++) {
        x = (x << 8) | p[k];
    }
    return x;
}

static int
has(const Reader *r, uint64_t size)
{
    return (uint64_t)(r->end - r->p) >= size;
}

/* A length header: a fix type (fix_lo..fix_hi, the length in the bits of *fix_mask*) or one
   of the types with a 1-, 2- or 4-byte length after it (*codes*, 0: none); the length is at
   most the bytes left (each item of an array takes one at least, a str its bytes). */
static int
read_len(Reader *r, unsigned char fix_lo, unsigned char fix_hi, unsigned char fix_mask,
         const unsigned char codes[3], uint64_t *n)
{
    static const int sizes[3] = {1, 2, 4};
    if (!has(r, 1)) {
        return -1;
    }
    unsigned char c = *r->p;
    if (c >= fix_lo && c <= fix_hi) {
        *n = c & fix_mask;
        r->p += 1;
        return has(r, *n) ? 0 : -1;
    }
    for (int k = 0; k < 3; k++) {
        if (codes[k] && c == codes[k] && has(r, 1 + sizes[k])) {
            *n = be(r->p + 1, sizes[k]);
            r->p += 1 + sizes[k];
            return has(r, *n) ? 0 : -1;
        }
    }
    return -1;
}

/* An array header. */
static int
read_array(Reader *r, Py_ssize_t *len)
{
    static const unsigned char codes[3] = {0, 0xdc, 0xdd};
    uint64_t n;
    if (read_len(r, 0x90, 0x9f, 0x0f, codes, &n)) {
        return -1;
    }
    *len = (Py_ssize_t)n;
    return 0;
}

/* A str's bytes (not yet checked as UTF-8). */
static int
read_str(Reader *r, const char **s, Py_ssize_t *len)
{
    static const unsigned char codes[3] = {0xd9, 0xda, 0xdb};
    uint64_t n;
    if (read_len(r, 0xa0, 0xbf, 0x1f, codes, &n)) {
        return -1;
    }
    *s = (const char *)r->p;
    *len = (Py_ssize_t)n;
    r->p += n;
    return 0;
}

/* An int (fixint, int8-64, uint8-64) or a float (float32, float64); else -1. */
static int
read_number(Reader *r, Num *v)
{
    static const signed char sizes[] = {
        /* 0xca float32 .. 0xd3 int64 */ 4, 8, 1, 2, 4, 8, 1, 2, 4, 8};
    if (!has(r, 1)) {
        return -1;
    }
    unsigned char c = *r->p;
    if (c <= 0x7f || c >= 0xe0) {
        v->kind = N_INT;
        v->i = (int64_t)(signed char)c;
        r->p += 1;
        return 0;
    }
    if (c < 0xca || c > 0xd3) {
        return -1;
    }
    int size = sizes[c - 0xca];
    if (!has(r, 1 + (uint64_t)size)) {
        return -1;
    }
    uint64_t x = be(r->p + 1, size);
    r->p += 1 + size;
    if (c == 0xca) {
        uint32_t bits = (uint32_t)x;
        float f;
        memcpy(&f, &bits, sizeof f);
        v->kind = N_FLOAT;
        v->d = (double)f;
    }
    else if (c == 0xcb) {
        memcpy(&v->d, &x, sizeof v->d);
        v->kind = N_FLOAT;
    }
    else if (c <= 0xcf) { /* uint8..uint64 */
        if (x > (uint64_t)INT64_MAX) {
            v->kind = N_BIG;
            v->u = x;
        }
        else {
            v->kind = N_INT;
            v->i = (int64_t)x;
        }
    }
    else { /* int8..int64: sign-extend */
        int bits = 8 * size;
        if (bits < 64 && (x >> (bits - 1)) & 1) {
            x |= ~UINT64_C(0) << bits;
        }
        v->kind = N_INT;
        v->i = (int64_t)x;
    }
    return 0;
}

static int
read_int(Reader *r, int64_t *out)
{
    Num v;
    if (read_number(r, &v) || v.kind != N_INT) {
        return -1;
    }
    *out = v.i;
    return 0;
}

static uint64_t
uabs(int64_t x)
{
    return x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
}

/* -- the work of one call ------------------------------------------------------------------ */

typedef struct {
    const char *p;
    Py_ssize_t len;
    PyObject *obj; /* the decoded str (owned) */
} Str;

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

typedef struct {
    Py_ssize_t name; /* index into strings */
    int k;           /* decimals, -1 for nil */
    int count;       /* written as <int>i */
    int has_int;
    size_t key, key_len; /* its "<prefix>name=" or ",name=" in Work.keys */
    int64_t n;         /* running decimal */
    uint64_t max_int;  /* largest |n| (k set) or |value| (k nil) of its ints */
    double max_float;  /* largest |value| of its floats */
} Column;

typedef struct {
    Py_ssize_t sensor, measurement, col0, tags[2 * MAX_TAG_PAIRS];
    int nfields, npairs, used, ascii;
    PyObject *entry; /* series(...) (owned) */
    size_t line_max; /* room a line needs, but for texts of fmt */
} Schema;

typedef struct {
    Py_ssize_t schema, val0;
    int64_t time;
} Reading;

typedef struct {
    Str *strings;
    Py_ssize_t nstrings;
    Schema *schemas;
    Py_ssize_t nschemas;
    Column *cols;
    Py_ssize_t ncols;
    Val *vals;
    Py_ssize_t nvals;
    Reading *readings;
    Py_ssize_t n;
    Buf line; /* the line being written */
    Buf keys;
    int ascii;
} Work;

static void
free_work(Work *w)
{
    for (Py_ssize_t i = 0; i < w->nstrings; i++) {
        Py_XDECREF(w->strings[i].obj);
    }
    for (Py_ssize_t i = 0; i < w->nschemas; i++) {
        Py_XDECREF(w->schemas[i].entry);
    }
    PyMem_Free(w->strings);
    PyMem_Free(w->schemas);
    PyMem_Free(w->cols);
    PyMem_Free(w->vals);
    PyMem_Free(w->readings);
    PyMem_Free(w->line.p);
    PyMem_Free(w->keys.p);
}

/* Room for *len* more bytes. */
static int
reserve(Buf *b, size_t len)
{
    if (b->cap - b->len >= len) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < len) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int
append(Buf *b, const char *s, size_t len)
{
    if (reserve(b, len)) {
        return -1;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    return 0;
}

/* Room a number written here takes at most (with a sign, and a count's "i"). */
#define NUMBER_ROOM 32

/* The digits of x at p; their count. */
static size_t
put_int(char *p, int64_t x)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    uint64_t a = uabs(x);
    do {
        tmp[--i] = (char)('0' + a % 10);
        a /= 10;
    } while (a);
    if (x < 0) {
        tmp[--i] = '-';
    }
    memcpy(p, tmp + i, sizeof tmp - i);
    return sizeof tmp - i;
}

/* The text of the float n / 10**k at p, as format_float writes it; its length, or 0 when
 * it is not written here (|n| >= 10**15, or below 1e-5: msgspec's exponent notation). */
static size_t
put_decimal(char *p, int64_t n, int k)
{
    uint64_t a = uabs(n);
    if (n == 0) {
        memcpy(p, "0.0", 3);
        return 3;
    }
    if (a >= PLAIN_LIMIT || (k > 5 && a < (uint64_t)POW10[k - 5])) {
        return 0;
    }
    char digits[24];
    int nd = 0;
    size_t o = 0;
    do {
        digits[nd++] = (char)('0' + a % 10); /* least significant first */
        a /= 10;
    } while (a);
    if (n < 0) {
        p[o++] = '-';
    }
    if (nd > k) {
        for (int i = nd - 1; i >= k; i--) {
            p[o++] = digits[i];
        }
    }
    else {
        p[o++] = '0';
    }
    p[o++] = '.';
    int low = 0; /* the fraction's trailing zeros are not written */
    while (low < k && low < nd && digits[low] == '0') {
        low++;
    }
    if (low == k) {
        p[o++] = '0';
    }
    else {
        for (int i = k - 1; i >= low; i--) {
            p[o++] = i < nd ? digits[i] : '0';
        }
    }
    return o;
}

/* Texts fmt wrote, by the float's bits (the same double always has the same text; -0.0
   and 0.0 differ in their bits): a sensor's floats sent as themselves repeat (a register
   times a scale), and a call of fmt costs several times the rest of a value. Direct-mapped,
   overwritten on a collision; used under the GIL only. */
#define FMT_SLOTS 4096
#define FMT_TEXT 32
typedef struct {
    uint64_t bits;
    unsigned char n; /* 0: empty */
    char text[FMT_TEXT];
} FmtSlot;
static FmtSlot fmt_cache[FMT_SLOTS];
_Static_assert(FMT_SLOTS == 1 << 12, "the slot is the top 12 bits of a 64-bit hash");

/* The text of a float by fmt (format_float), then room for the rest of the line again. */
static int
append_fmt(Work *w, PyObject *fmt, double x, size_t line_max)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    FmtSlot *slot = &fmt_cache[(bits * 0x9E3779B97F4A7C15ull) >> 52]; /* 4096 slots */
    if (slot->n && slot->bits == bits) {
        return append(&w->line, slot->text, slot->n) || reserve(&w->line, line_max) ? -1 : 0;
    }
    PyObject *f = PyFloat_FromDouble(x);
    if (f == NULL) {
        return -1;
    }
    PyObject *text = PyObject_CallOneArg(fmt, f);
    Py_DECREF(f);
    if (text == NULL) {
        return -1;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_CheckExact(text) ? PyUnicode_AsUTF8AndSize(text, &len) : NULL;
    int rc = -1;
    if (s != NULL && len > 0) {
        w->ascii &= PyUnicode_IS_ASCII(text) ? 1 : 0;
        rc = append(&w->line, s, (size_t)len) || reserve(&w->line, line_max) ? -1 : 0;
        if (rc == 0 && len <= FMT_TEXT && PyUnicode_IS_ASCII(text)) {
            slot->n = 0; /* never half written */
            slot->bits = bits;
            memcpy(slot->text, s, (size_t)len);
            slot->n = (unsigned char)len;
        }
    }
    Py_DECREF(text);
    return rc;
}

/* -- the body ------------------------------------------------------------------------------ */

static int
read_index(Reader *r, const Work *w, Py_ssize_t *out)
{
    int64_t i;
    if (read_int(r, &i) || i < 0 || i >= w->nstrings) {
        return -1;
    }
    *out = (Py_ssize_t)i;
    return 0;
}

static int
same(const Work *w, Py_ssize_t a, Py_ssize_t b)
{
    const Str *x = &w->strings[a], *y = &w->strings[b];
    return x->len == y->len && memcmp(x->p, y->p, (size_t)x->len) == 0;
}

/* strings and schemas, with the checks of telemetry.compact._schema and the widths */
static int
read_tables(Reader *r, Work *w)
{
    Py_ssize_t m;
    if (read_array(r, &m) || m > MAX_STRINGS) {
        return -1;
    }
    w->strings = PyMem_Calloc((size_t)m + 1, sizeof(Str));
    if (w->strings == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < m; i++) {
        Str *s = &w->strings[i];
        if (read_str(r, &s->p, &s->len)) {
            return -1;
        }
        s->obj = PyUnicode_DecodeUTF8(s->p, s->len, NULL); /* strict, as msgpack reads it */
        if (s->obj == NULL) {
            return -1;
        }
        w->nstrings = i + 1;
    }
    if (read_array(r, &m) || m == 0 || m > MAX_SCHEMAS) {
        return -1;
    }
    w->schemas = PyMem_Calloc((size_t)m, sizeof(Schema));
    Py_ssize_t cap = 16;
    w->cols = PyMem_Malloc((size_t)cap * sizeof(Column));
    if (w->schemas == NULL || w->cols == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < m; i++) {
        Schema *s = &w->schemas[i];
        w->nschemas = i + 1;
        Py_ssize_t len, nf;
        if (read_array(r, &len) || len != 5 || read_index(r, w, &s->sensor) ||
            read_index(r, w, &s->measurement) || read_array(r, &nf) || nf < 1 ||
            nf > MAX_FIELDS) {
            return -1;
        }
        if (cap - w->ncols < nf) {
            cap = 2 * cap + nf;
            Column *cols = PyMem_Realloc(w->cols, (size_t)cap * sizeof(Column));
            if (cols == NULL) {
                return -1;
            }
            w->cols = cols;
        }
        s->col0 = w->ncols;
        s->nfields = (int)nf;
        Column *c = &w->cols[s->col0];
        memset(c, 0, (size_t)nf * sizeof(Column));
        w->ncols += nf;
        for (int j = 0; j < nf; j++) {
            if (read_index(r, w, &c[j].name)) {
                return -1;
            }
            for (int q = 0; q < j; q++) {
                if (same(w, c[q].name, c[j].name)) { /* a field name twice */
                    return -1;
                }
            }
        }
        if (read_array(r, &len) || len != nf) {
            return -1;
        }
        for (int j = 0; j < nf; j++) {
            int64_t k;
            if (has(r, 1) && *r->p == 0xc0) {
                r->p++;
                c[j].k = -1;
            }
            else if (read_int(r, &k) || k < 0 || k > MAX_DECIMALS) {
                return -1;
            }
            else {
                c[j].k = (int)k;
            }
        }
        if (read_array(r, &len) || len % 2 || len > 2 * MAX_TAG_PAIRS) {
            return -1;
        }
        s->npairs = (int)(len / 2);
        for (Py_ssize_t t = 0; t < len; t++) {
            if (read_index(r, w, &s->tags[t])) {
                return -1;
            }
            for (Py_ssize_t q = 0; t % 2 == 0 && q < t; q += 2) {
                if (same(w, s->tags[q], s->tags[t])) { /* a tag key twice */
                    return -1;
                }
            }
        }
    }
    return 0;
}

/* The rows: each reading's schema, time and values; the checks on the numbers. */
static int
read_rows(Reader *r, Work *w, int64_t t0, int64_t unit, int64_t *newest)
{
    Py_ssize_t m;
    if (read_array(r, &m) || m > MAX_ROW_ITEMS) { /* more than 10,000 readings */
        return -1;
    }
    Py_ssize_t most = m / 3 < MAX_READINGS ? m / 3 : MAX_READINGS;
    w->vals = PyMem_Malloc(((size_t)m + 1) * sizeof(Val));
    w->readings = PyMem_Malloc(((size_t)most + 1) * sizeof(Reading));
    if (w->vals == NULL || w->readings == NULL) {
        return -1;
    }
    Py_ssize_t items = 0;
    int64_t time = t0;
    *newest = INT64_MIN;
    while (items < m) {
        int64_t index, dt, step;
        if (w->n == MAX_READINGS || read_int(r, &index) || index < 0 || index >= w->nschemas) {
            return -1;
        }
        Schema *s = &w->schemas[index];
        if (m - items < 2 + s->nfields || read_int(r, &dt) ||
            __builtin_mul_overflow(dt, unit, &step) || __builtin_add_overflow(time, step, &time) ||
            time < MIN_TIME_MS || time >= MAX_TIME_MS) {
            return -1;
        }
        if (time > *newest) {
            *newest = time;
        }
        Reading *reading = &w->readings[w->n++];
        reading->schema = (Py_ssize_t)index;
        reading->time = time;
        reading->val0 = w->nvals;
        s->used = 1;
        Column *c = &w->cols[s->col0];
        for (int j = 0; j < s->nfields; j++) {
            Num v;
            Val *out = &w->vals[w->nvals++];
            if (read_number(r, &v) || v.kind == N_BIG) {
                return -1;
            }
            if (v.kind == N_FLOAT) {
                double a = fabs(v.d);
                if (!isfinite(v.d)) {
                    return -1;
                }
                if (a > c[j].max_float) {
                    c[j].max_float = a;
                }
                out->is_int = 0;
                out->v.d = v.d;
                continue;
            }
            uint64_t a;
            c[j].has_int = 1;
            out->is_int = 1;
            out->v.i = v.i;
            if (c[j].k >= 0) { /* a decimal: n / 10**k exact as doubles below 2**53 */
                if (__builtin_add_overflow(c[j].n, v.i, &c[j].n)) {
                    return -1;
                }
                a = uabs(c[j].n);
                if (a >= EXACT && c[j].k > 0) { /* n / 1 is (double)n, rounded once */
                    return -1;
                }
            }
            else {
                a = uabs(v.i);
                if (a > EXACT) { /* as _column: an int beyond 2**53 for a float */
                    return -1;
                }
            }
            if (a > c[j].max_int) {
                c[j].max_int = a;
            }
        }
        items += 2 + s->nfields;
    }
    return w->n ? 0 : -1;
}

/* series() of every schema used, in order: the prefix and the counts. */
static int
call_series(Work *w, PyObject *gateway, PyObject *series)
{
    for (Py_ssize_t i = 0; i < w->nschemas; i++) {
        Schema *s = &w->schemas[i];
        if (!s->used) {
            continue;
        }
        Column *c = &w->cols[s->col0];
        PyObject *names = PyList_New(s->nfields);
        PyObject *tags = PyDict_New();
        if (names == NULL || tags == NULL) {
            Py_XDECREF(names);
            Py_XDECREF(tags);
            return -1;
        }
        s->ascii = 1;
        for (int j = 0; j < s->nfields; j++) {
            PyObject *name = w->strings[c[j].name].obj;
            s->ascii &= PyUnicode_IS_ASCII(name) ? 1 : 0;
            Py_INCREF(name);
            PyList_SET_ITEM(names, j, name);
        }
        for (int t = 0; t < s->npairs; t++) {
            if (PyDict_SetItem(tags, w->strings[s->tags[2 * t]].obj,
                               w->strings[s->tags[2 * t + 1]].obj)) {
                Py_DECREF(names);
                Py_DECREF(tags);
                return -1;
            }
        }
        s->entry = PyObject_CallFunctionObjArgs(series, gateway, w->strings[s->sensor].obj,
                                                w->strings[s->measurement].obj, names, tags,
                                                NULL);
        Py_DECREF(names);
        Py_DECREF(tags);
        if (s->entry == NULL || !PyTuple_CheckExact(s->entry) ||
            PyTuple_GET_SIZE(s->entry) != 2) {
            return -1;
        }
        PyObject *prefix = PyTuple_GET_ITEM(s->entry, 0);
        PyObject *kinds = PyTuple_GET_ITEM(s->entry, 1);
        if (!PyUnicode_CheckExact(prefix)) {
            return -1;
        }
        Py_ssize_t prefix_len;
        const char *prefix_text = PyUnicode_AsUTF8AndSize(prefix, &prefix_len);
        if (prefix_text == NULL) {
            return -1;
        }
        s->ascii &= PyUnicode_IS_ASCII(prefix) ? 1 : 0;
        s->line_max = 1 + 20; /* " " time */
        for (int j = 0; j < s->nfields; j++) { /* "<prefix>name=", ",name=", ... */
            const Str *name = &w->strings[c[j].name];
            c[j].key = w->keys.len;
            if ((j == 0 ? append(&w->keys, prefix_text, (size_t)prefix_len)
                        : append(&w->keys, ",", 1)) ||
                append(&w->keys, name->p, (size_t)name->len) || append(&w->keys, "=", 1)) {
                return -1;
            }
            c[j].key_len = w->keys.len - c[j].key;
            s->line_max += c[j].key_len + NUMBER_ROOM;
        }
        if (kinds != Py_None &&
            (!PyTuple_CheckExact(kinds) || PyTuple_GET_SIZE(kinds) != s->nfields)) {
            return -1;
        }
        for (int j = 0; j < s->nfields; j++) {
            PyObject *kind = kinds == Py_None ? Py_False : PyTuple_GET_ITEM(kinds, j);
            if (kind != Py_True && kind != Py_False) {
                return -1;
            }
            c[j].count = kind == Py_True;
            /* _column: with an int in a column without decimals, every |value| <= 2**53 */
            if (c[j].k < 0 && c[j].has_int && c[j].max_float > EXACT_D) {
                return -1;
            }
            /* counts: int(value), of values below 2**53 only (for k > 0, |n| < 2**53 holds) */
            if (c[j].count && (c[j].max_int >= EXACT || c[j].max_float >= EXACT_D)) {
                return -1;
            }
            c[j].n = 0; /* the running decimals again, as the lines are written */
        }
    }
    return 0;
}

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
