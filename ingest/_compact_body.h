/* Reading a compact body's tables and rows for ingest/_compact_lines.c, and the one
 * series() call per schema used.
 * Included once, by ingest/_compact_lines.c, after the constants it defines. */

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
