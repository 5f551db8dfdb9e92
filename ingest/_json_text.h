/* The text ingest/_json_lines.c writes: the output buffer, and the texts of floats (their
 * own digits, else fmt's, kept by the number's text) and of counts.
 * Included once, by ingest/_json_lines.c, after the constants it defines. */

/* Output buffer. */
typedef struct {
    char *b;
    Py_ssize_t n, cap;
} Buf;

/* Room for *n* more bytes: 1, or 0 out of memory. */
static int grow(Buf *o, Py_ssize_t n) {
    Py_ssize_t cap = o->cap ? o->cap : 256;
    while (cap < o->n + n) cap *= 2;
    char *b = PyMem_Realloc(o->b, cap);
    if (!b) return 0;
    o->b = b;
    o->cap = cap;
    return 1;
}

/* Inlined (most pieces are a few bytes: a comma, a key, a value). */
static inline __attribute__((always_inline)) int put(Buf *o, const char *s, Py_ssize_t n) {
    if (o->n + n > o->cap && !grow(o, n)) return 0;
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
