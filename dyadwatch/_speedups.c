/* Compiled forms of the two loops of alias matching that run once per match.
 *
 * dyadwatch/actors.py holds the same loops in Python (``_scan`` and ``_select``); they
 * are the reference, used where this module is not built, and tests check that both give
 * the same results. Nothing here decides anything the Python does not: these loops only
 * check word boundaries, settle overlapping matches and make the mention tuples, which is
 * most of the time detection spends per match in Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Whether ``ch`` is a word character, as ``ch.isalnum() or ch == "_"`` is in Python. */
static unsigned char ascii_word[128];

static inline int
is_word(Py_UCS4 ch)
{
    if (ch < 128) {
        return ascii_word[ch];
    }
    return Py_UNICODE_ISALNUM(ch);
}

static int
append_new(PyObject *list, PyObject *item)
{
    if (item == NULL) {
        return -1;
    }
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

static int
as_index(PyObject *value, const char *what, Py_ssize_t *out)
{
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what,
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    *out = PyLong_AsSsize_t(value);
    if (*out == -1 && PyErr_Occurred()) {
        return -1;
    }
    return 0;
}

/* Append (start, -end, order, alias) to ``out`` for each entry (order, alias). */
static int
append_entries(PyObject *out, PyObject *entries, PyObject *start, Py_ssize_t end)
{
    Py_ssize_t count = PyTuple_GET_SIZE(entries);
    if (count == 0) {
        return 0;
    }
    PyObject *negative = PyLong_FromSsize_t(-end);
    if (negative == NULL) {
        return -1;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *entry = PyTuple_GET_ITEM(entries, k);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2) {
            PyErr_SetString(PyExc_TypeError, "an alias entry must be a tuple (order, alias)");
            Py_DECREF(negative);
            return -1;
        }
        PyObject *hit = PyTuple_Pack(4, start, negative, PyTuple_GET_ITEM(entry, 0),
                                     PyTuple_GET_ITEM(entry, 1));
        if (append_new(out, hit) < 0) {
            Py_DECREF(negative);
            return -1;
        }
    }
    Py_DECREF(negative);
    return 0;
}

/* What ``scan`` sorts the matches into: ``meanings`` (a tuple) says what each pattern
   is; alias matches go to ``out`` (a list), words' places to ``words`` (a dict). */
typedef struct {
    PyObject *meanings;
    PyObject *out;
    PyObject *words;
    int kind;
    const void *data;
    Py_ssize_t n;
} Sorting;

static int
sorting_init(Sorting *sorting, PyObject *meanings, PyObject *text, PyObject *out,
             PyObject *words)
{
    if (!PyTuple_Check(meanings) || !PyUnicode_Check(text) || !PyList_Check(out)
        || !PyDict_Check(words)) {
        PyErr_SetString(PyExc_TypeError,
                        "meanings, text, out and words must be a tuple, a str, a list and "
                        "a dict");
        return -1;
    }
    if (PyUnicode_READY(text) < 0) {
        return -1;
    }
    sorting->meanings = meanings;
    sorting->out = out;
    sorting->words = words;
    sorting->kind = PyUnicode_KIND(text);
    sorting->data = PyUnicode_DATA(text);
    sorting->n = PyUnicode_GET_LENGTH(text);
    return 0;
}

/* One match of pattern ``i`` from ``start`` to ``end``, as ``actors._scan`` takes it.
   ``first`` and ``last`` are ``start`` and ``end`` as ints, or NULL to make them. */
static int
sort_match(Sorting *sorting, Py_ssize_t i, Py_ssize_t start, Py_ssize_t end, PyObject *first,
           PyObject *last)
{
    Py_ssize_t n = sorting->n;
    if (i < 0 || i >= PyTuple_GET_SIZE(sorting->meanings) || start < 0 || end < start
        || end > n) {
        PyErr_Format(PyExc_ValueError,
                     "match (%zd, %zd, %zd) out of range: %zd patterns, %zd characters", i,
                     start, end, PyTuple_GET_SIZE(sorting->meanings), n);
        return -1;
    }
    PyObject *meaning = PyTuple_GET_ITEM(sorting->meanings, i);
    if (!PyTuple_Check(meaning) || PyTuple_GET_SIZE(meaning) != 3
        || !PyTuple_Check(PyTuple_GET_ITEM(meaning, 1))
        || !PyTuple_Check(PyTuple_GET_ITEM(meaning, 2))) {
        PyErr_SetString(PyExc_TypeError,
                        "a meaning must be a tuple (word, literal entries, stem entries)");
        return -1;
    }
    PyObject *word = PyTuple_GET_ITEM(meaning, 0);
    PyObject *literal = PyTuple_GET_ITEM(meaning, 1);
    PyObject *stems = PyTuple_GET_ITEM(meaning, 2);
    Py_ssize_t number;
    if (as_index(word, "a word number", &number) < 0) {
        return -1;
    }
    int rc = -1;
    PyObject *made_first = NULL;
    if (first == NULL) {
        first = made_first = PyLong_FromSsize_t(start);
        if (first == NULL) {
            return -1;
        }
    }
    if (number >= 0) {
        PyObject *made_last = last == NULL ? PyLong_FromSsize_t(end) : NULL;
        PyObject *spot =
            (last == NULL && made_last == NULL) ? NULL
                                                : PyTuple_Pack(2, first, last ? last : made_last);
        Py_XDECREF(made_last);
        if (spot == NULL) {
            goto done;
        }
        PyObject *spots = PyDict_GetItemWithError(sorting->words, word);
        if (spots != NULL) {
            if (append_new(spots, spot) < 0) {
                goto done;
            }
        }
        else {
            if (PyErr_Occurred() || (spots = PyList_New(1)) == NULL) {
                Py_DECREF(spot);
                goto done;
            }
            PyList_SET_ITEM(spots, 0, spot);
            int stored = PyDict_SetItem(sorting->words, word, spots);
            Py_DECREF(spots);
            if (stored < 0) {
                goto done;
            }
        }
        if (PyTuple_GET_SIZE(literal) == 0 && PyTuple_GET_SIZE(stems) == 0) {
            rc = 0;
            goto done;
        }
    }
    int kind = sorting->kind;
    const void *data = sorting->data;
    if (start > 0 && is_word(PyUnicode_READ(kind, data, start - 1))) {
        rc = 0;
        goto done;
    }
    if (PyTuple_GET_SIZE(literal) && (end == n || !is_word(PyUnicode_READ(kind, data, end)))) {
        if (append_entries(sorting->out, literal, first, end) < 0) {
            goto done;
        }
    }
    if (PyTuple_GET_SIZE(stems)) {
        Py_ssize_t stop = end;
        while (stop < n && is_word(PyUnicode_READ(kind, data, stop))) {
            stop++;
        }
        if (append_entries(sorting->out, stems, first, stop) < 0) {
            goto done;
        }
    }
    rc = 0;
done:
    Py_XDECREF(made_first);
    return rc;
}

PyDoc_STRVAR(scan_doc,
"scan(found, meanings, text, out, words)\n\n"
"The matches ``found`` of one search, as (pattern number, start, end), sorted into\n"
"``out`` and ``words`` as ``actors._scan`` does.");

static PyObject *
scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "scan() takes 5 arguments");
        return NULL;
    }
    Sorting sorting;
    if (sorting_init(&sorting, args[1], args[2], args[3], args[4]) < 0) {
        return NULL;
    }
    PyObject *matches = PySequence_Fast(args[0], "scan() needs a sequence of matches");
    if (matches == NULL) {
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(matches);
    PyObject **items = PySequence_Fast_ITEMS(matches);
    for (Py_ssize_t m = 0; m < count; m++) {
        PyObject *match = items[m];
        if (!PyTuple_Check(match) || PyTuple_GET_SIZE(match) != 3) {
            PyErr_SetString(PyExc_TypeError, "a match must be a tuple (pattern, start, end)");
            goto error;
        }
        Py_ssize_t i, start, end;
        if (as_index(PyTuple_GET_ITEM(match, 0), "a pattern number", &i) < 0
            || as_index(PyTuple_GET_ITEM(match, 1), "a start", &start) < 0
            || as_index(PyTuple_GET_ITEM(match, 2), "an end", &end) < 0
            || sort_match(&sorting, i, start, end, PyTuple_GET_ITEM(match, 1),
                          PyTuple_GET_ITEM(match, 2)) < 0) {
            goto error;
        }
    }
    Py_DECREF(matches);
    Py_RETURN_NONE;
error:
    Py_DECREF(matches);
    return NULL;
}

PyDoc_STRVAR(select_doc,
"select(raw, states, make_state, text, mention, judge) -> list\n\n"
"The mentions of the sorted alias matches ``raw``, as ``actors._select`` finds them.");

/* One match of ``select``: the mention it makes (a new reference), Py_None if it makes
   none, or NULL on error. ``chosen`` holds (strong references to) the actors of the last
   three matches chosen, ``*count`` how many were chosen in all. */
static PyObject *
select_one(PyObject *hit, Py_ssize_t n, PyObject *states, PyObject *make_state,
           PyObject *text, PyTypeObject *type, PyObject *judge, PyObject **chosen,
           Py_ssize_t *count, Py_ssize_t *last_start, Py_ssize_t *last_end)
{
    if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "a match must be a tuple (start, -end, order, alias number)");
        return NULL;
    }
    Py_ssize_t start, end;
    if (as_index(PyTuple_GET_ITEM(hit, 0), "a start", &start) < 0
        || as_index(PyTuple_GET_ITEM(hit, 1), "an end", &end) < 0) {
        return NULL;
    }
    end = -end;
    if (start < 0 || end < start || end > n) {
        PyErr_Format(PyExc_ValueError, "match (%zd, %zd) out of range: %zd characters", start,
                     end, n);
        return NULL;
    }
    PyObject *number = PyTuple_GET_ITEM(hit, 3);
    PyObject *state = PyDict_GetItemWithError(states, number);
    if (state != NULL) {
        Py_INCREF(state);
    }
    else if (PyErr_Occurred()) {
        return NULL;
    }
    else if ((state = PyObject_CallOneArg(make_state, number)) == NULL) {
        return NULL;
    }
    PyObject *made = NULL, *surface = NULL, *stop = NULL;
    if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) < 4) {
        PyErr_SetString(PyExc_TypeError,
                        "a state must be a tuple (actor, alias, kind, plain, ...)");
        goto done;
    }
    PyObject *actor = PyTuple_GET_ITEM(state, 0);
    if (start >= *last_end) {
        *last_start = start;
        *last_end = end;
    }
    else if (start != *last_start || end != *last_end) {
        made = Py_NewRef(Py_None);
        goto done;
    }
    else {
        /* One form, two actors: both are kept, but not one actor twice. */
        Py_ssize_t recent = *count < 3 ? *count : 3;
        for (Py_ssize_t k = 0; k < recent; k++) {
            int again = PyObject_RichCompareBool(chosen[(*count - 1 - k) % 3], actor, Py_EQ);
            if (again < 0) {
                goto done;
            }
            if (again) {
                made = Py_NewRef(Py_None);
                goto done;
            }
        }
    }
    Py_XSETREF(chosen[*count % 3], Py_NewRef(actor));
    (*count)++;
    surface = PyUnicode_Substring(text, start, end);
    stop = PyLong_FromSsize_t(end);
    if (surface == NULL || stop == NULL) {
        goto done;
    }
    int plain = PyObject_IsTrue(PyTuple_GET_ITEM(state, 3));
    if (plain < 0) {
        goto done;
    }
    if (!plain) {
        PyObject *call[4] = {PyTuple_GET_ITEM(hit, 0), stop, surface, state};
        made = PyObject_Vectorcall(judge, call, 4, NULL);
        goto done;
    }
    made = type->tp_alloc(type, 6);
    if (made == NULL) {
        goto done;
    }
    PyObject *values[6] = {actor, PyTuple_GET_ITEM(state, 1), PyTuple_GET_ITEM(state, 2),
                           PyTuple_GET_ITEM(hit, 0), stop, surface};
    for (int k = 0; k < 6; k++) {
        PyTuple_SET_ITEM(made, k, Py_NewRef(values[k]));
    }
done:
    Py_XDECREF(stop);
    Py_XDECREF(surface);
    Py_DECREF(state);
    return made;
}

static PyObject *
select_mentions(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "select() takes 6 arguments");
        return NULL;
    }
    PyObject *raw = args[0], *states = args[1], *make_state = args[2], *text = args[3];
    PyObject *mention = args[4], *judge = args[5];
    if (!PyList_Check(raw) || !PyDict_Check(states) || !PyUnicode_Check(text)
        || !PyType_Check(mention) || !PyType_IsSubtype((PyTypeObject *)mention, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError,
                        "select() takes a list, a dict, a callable, a str, a tuple type "
                        "and a callable");
        return NULL;
    }
    if (PyUnicode_READY(text) < 0) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *mentions = PyList_New(0);
    if (mentions == NULL) {
        return NULL;
    }
    PyObject *chosen[3] = {NULL, NULL, NULL};
    Py_ssize_t count = 0, last_start = -1, last_end = -1;
    /* ``raw`` is read by index, its size each time: a callback could change it. */
    for (Py_ssize_t r = 0; r < PyList_GET_SIZE(raw); r++) {
        PyObject *hit = Py_NewRef(PyList_GET_ITEM(raw, r));
        PyObject *made = select_one(hit, n, states, make_state, text, (PyTypeObject *)mention,
                                    judge, chosen, &count, &last_start, &last_end);
        Py_DECREF(hit);
        int rc = made == NULL ? -1 : made == Py_None ? 0 : PyList_Append(mentions, made);
        Py_XDECREF(made);
        if (rc < 0) {
            Py_CLEAR(mentions);
            break;
        }
    }
    for (int k = 0; k < 3; k++) {
        Py_XDECREF(chosen[k]);
    }
    return mentions;
}

PyDoc_STRVAR(prepare_doc,
"prepare(text) -> (marked, lowered, rest)\n\n"
"``automata.marks(text)``, the same with A-Z in lower case, and the characters of\n"
"``text`` outside ASCII in order, as ``actors._prepare`` gives them.");

static PyObject *
prepare(PyObject *module, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "prepare() takes a str, not %.100s",
                     Py_TYPE(text)->tp_name);
        return NULL;
    }
    if (PyUnicode_READY(text) < 0) {
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *marked = PyBytes_FromStringAndSize(NULL, n);
    PyObject *lowered = PyBytes_FromStringAndSize(NULL, n);
    PyObject *rest = NULL;
    if (marked == NULL || lowered == NULL) {
        goto error;
    }
    unsigned char *mark = (unsigned char *)PyBytes_AS_STRING(marked);
    unsigned char *low = (unsigned char *)PyBytes_AS_STRING(lowered);
    Py_ssize_t others = 0;
    Py_UCS4 widest = 0;
    /* One loop per width of the string's characters, with no branch inside, so that the
       compiler can do several characters at once. */
#define PREPARE(T)                                                              \
    do {                                                                        \
        const T *chars = (const T *)data;                                       \
        T any = 0;                                                              \
        for (Py_ssize_t i = 0; i < n; i++) {                                    \
            T ch = chars[i];                                                    \
            unsigned char byte = ch < 128 ? (unsigned char)ch : (unsigned char)'?'; \
            mark[i] = byte;                                                     \
            low[i] = byte + ((unsigned char)(byte - 'A') < 26 ? 32 : 0);        \
            any |= ch;                                                          \
        }                                                                       \
        if (any >= 128) {                                                       \
            for (Py_ssize_t i = 0; i < n; i++) {                                \
                T ch = chars[i];                                                \
                others += ch >= 128;                                            \
                widest = ch > widest ? ch : widest;                             \
            }                                                                   \
        }                                                                       \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND) {
        PREPARE(Py_UCS1);
    }
    else if (kind == PyUnicode_2BYTE_KIND) {
        PREPARE(Py_UCS2);
    }
    else {
        PREPARE(Py_UCS4);
    }
#undef PREPARE
    rest = PyUnicode_New(others, widest);
    if (rest == NULL) {
        goto error;
    }
    if (others) {
        int rest_kind = PyUnicode_KIND(rest);
        void *rest_data = PyUnicode_DATA(rest);
        Py_ssize_t k = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, i);
            if (ch >= 128) {
                PyUnicode_WRITE(rest_kind, rest_data, k++, ch);
            }
        }
    }
    return Py_BuildValue("(NNN)", marked, lowered, rest);
error:
    Py_XDECREF(marked);
    Py_XDECREF(lowered);
    return NULL;
}

/* -- Aho-Corasick automaton ------------------------------------------------------------
 *
 * A DFA over byte strings: every transition is in the table, so a search reads one entry
 * per byte of the haystack. Bytes are grouped into classes first (each byte found in a
 * pattern has a class of its own, all others share class 0), which keeps the table small.
 * States are numbered in the order the trie makes them; the table holds each next state
 * multiplied by the number of classes, so that a step is one addition and one read, and
 * flagged (ENDS) if it ends a pattern.
 */
#define ENDS 0x80000000u

typedef struct {
    PyObject_HEAD
    Py_ssize_t patterns;
    Py_ssize_t *lengths;   /* per pattern, in bytes */
    int32_t *next_same;    /* per pattern: the next pattern ending in the same state, or -1 */
    uint32_t *delta;       /* states x classes: the next state times classes */
    int32_t *first;        /* per state: the first pattern it ends, or -1 */
    int32_t *link;         /* per state: the nearest shorter suffix state ending one, or -1 */
    uint32_t states;
    uint32_t classes;
    uint8_t class_of[256];
} Automaton;

static void
automaton_dealloc(Automaton *self)
{
    PyMem_Free(self->lengths);
    PyMem_Free(self->next_same);
    PyMem_Free(self->delta);
    PyMem_Free(self->first);
    PyMem_Free(self->link);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
automaton_build(Automaton *self, PyObject *patterns)
{
    Py_ssize_t count = PySequence_Fast_GET_SIZE(patterns);
    PyObject **items = PySequence_Fast_ITEMS(patterns);
    Py_ssize_t total = 0;
    int used[256] = {0};
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyBytes_Check(items[i])) {
            PyErr_Format(PyExc_TypeError, "pattern %zd is not bytes but %.100s", i,
                         Py_TYPE(items[i])->tp_name);
            return -1;
        }
        Py_ssize_t size = PyBytes_GET_SIZE(items[i]);
        if (size == 0) {
            PyErr_Format(PyExc_ValueError, "pattern %zd is empty", i);
            return -1;
        }
        const unsigned char *bytes = (const unsigned char *)PyBytes_AS_STRING(items[i]);
        for (Py_ssize_t k = 0; k < size; k++) {
            used[bytes[k]] = 1;
        }
        total += size;
    }
    if (count > INT32_MAX || total >= INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many patterns for one automaton");
        return -1;
    }
    uint32_t classes = 1;
    for (int b = 0; b < 256; b++) {
        self->class_of[b] = used[b] ? (uint8_t)classes++ : 0;
    }
    uint32_t most = (uint32_t)total + 1;
    if ((uint64_t)most * classes >= ENDS) {
        PyErr_SetString(PyExc_ValueError, "patterns too long for one automaton");
        return -1;
    }
    self->patterns = count;
    self->classes = classes;
    self->lengths = PyMem_New(Py_ssize_t, count ? count : 1);
    self->next_same = PyMem_New(int32_t, count ? count : 1);
    self->delta = PyMem_New(uint32_t, (size_t)most * classes);
    self->first = PyMem_New(int32_t, most);
    self->link = PyMem_New(int32_t, most);
    int32_t *fail = PyMem_New(int32_t, most);
    uint32_t *queue = PyMem_New(uint32_t, most);
    if (!self->lengths || !self->next_same || !self->delta || !self->first || !self->link
        || !fail || !queue) {
        PyMem_Free(fail);
        PyMem_Free(queue);
        PyErr_NoMemory();
        return -1;
    }
    /* The trie: UINT32_MAX marks a missing transition. */
    uint32_t *delta = self->delta;
    for (size_t k = 0; k < (size_t)most * classes; k++) {
        delta[k] = UINT32_MAX;
    }
    uint32_t states = 1;
    self->first[0] = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t size = PyBytes_GET_SIZE(items[i]);
        const unsigned char *bytes = (const unsigned char *)PyBytes_AS_STRING(items[i]);
        uint32_t state = 0;
        for (Py_ssize_t k = 0; k < size; k++) {
            uint32_t *slot = &delta[(size_t)state * classes + self->class_of[bytes[k]]];
            if (*slot == UINT32_MAX) {
                self->first[states] = -1;
                *slot = states++;
            }
            state = *slot;
        }
        self->lengths[i] = size;
        /* Patterns ending in one state (the same bytes twice) are all reported, in order. */
        self->next_same[i] = -1;
        if (self->first[state] < 0) {
            self->first[state] = (int32_t)i;
        }
        else {
            int32_t last = self->first[state];
            while (self->next_same[last] >= 0) {
                last = self->next_same[last];
            }
            self->next_same[last] = (int32_t)i;
        }
    }
    /* Breadth first: each state's failure (its longest proper suffix that is a state),
       and every missing transition taken from the failure's. */
    uint32_t head = 0, tail = 0;
    fail[0] = 0;
    self->link[0] = -1;
    for (uint32_t c = 0; c < classes; c++) {
        uint32_t *slot = &delta[c];
        if (*slot == UINT32_MAX) {
            *slot = 0;
        }
        else {
            fail[*slot] = 0;
            self->link[*slot] = -1;
            queue[tail++] = *slot;
        }
    }
    while (head < tail) {
        uint32_t state = queue[head++];
        for (uint32_t c = 0; c < classes; c++) {
            uint32_t *slot = &delta[(size_t)state * classes + c];
            uint32_t by_fail = delta[(size_t)fail[state] * classes + c];
            if (*slot == UINT32_MAX) {
                *slot = by_fail;
            }
            else {
                uint32_t child = *slot;
                fail[child] = (int32_t)by_fail;
                self->link[child] =
                    self->first[by_fail] >= 0 ? (int32_t)by_fail : self->link[by_fail];
                queue[tail++] = child;
            }
        }
    }
    PyMem_Free(fail);
    PyMem_Free(queue);
    /* Premultiplied, with the top bit set on states that end a pattern (themselves or
       by a suffix), and the unused end of the table given back. */
    for (size_t k = 0; k < (size_t)states * classes; k++) {
        uint32_t state = delta[k];
        int ends = self->first[state] >= 0 || self->link[state] >= 0;
        delta[k] = state * classes | (ends ? ENDS : 0);
    }
    uint32_t *shrunk = PyMem_Resize(delta, uint32_t, (size_t)states * classes);
    if (shrunk != NULL) {
        self->delta = shrunk;
    }
    self->states = states;
    return 0;
}

static PyObject *
automaton_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *patterns;
    static char *keywords[] = {"patterns", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Automaton", keywords, &patterns)) {
        return NULL;
    }
    PyObject *listed = PySequence_Fast(patterns, "Automaton() needs a sequence of bytes");
    if (listed == NULL) {
        return NULL;
    }
    Automaton *self = (Automaton *)type->tp_alloc(type, 0);
    if (self != NULL && automaton_build(self, listed) < 0) {
        Py_CLEAR(self);
    }
    Py_DECREF(listed);
    return (PyObject *)self;
}

/* Calls ``report(context, pattern, start, end)`` for every occurrence of every pattern in
   ``haystack``, in the order they end (the longest first where several end together). */
typedef int (*Report)(void *context, Py_ssize_t pattern, Py_ssize_t start, Py_ssize_t end);

static int
automaton_search(Automaton *self, const unsigned char *haystack, Py_ssize_t size,
                 Report report, void *context)
{
    const uint32_t *delta = self->delta;
    const uint8_t *class_of = self->class_of;
    const int32_t *first = self->first, *link = self->link;
    uint32_t classes = self->classes;
    uint32_t state = 0;
    for (Py_ssize_t k = 0; k < size; k++) {
        state = delta[(state & ~ENDS) + class_of[haystack[k]]];
        if (!(state & ENDS)) {
            continue;
        }
        uint32_t number = (state & ~ENDS) / classes;
        int32_t ending = first[number] >= 0 ? (int32_t)number : link[number];
        while (ending >= 0) {
            for (int32_t p = first[ending]; p >= 0; p = self->next_same[p]) {
                if (report(context, p, k + 1 - self->lengths[p], k + 1) < 0) {
                    return -1;
                }
            }
            ending = link[ending];
        }
    }
    return 0;
}

static int
report_tuple(void *context, Py_ssize_t pattern, Py_ssize_t start, Py_ssize_t end)
{
    return append_new((PyObject *)context, Py_BuildValue("(nnn)", pattern, start, end));
}

static int
report_sorted(void *context, Py_ssize_t pattern, Py_ssize_t start, Py_ssize_t end)
{
    return sort_match((Sorting *)context, pattern, start, end, NULL, NULL);
}

static int
haystack_bytes(PyObject *haystack, Py_buffer *view)
{
    return PyObject_GetBuffer(haystack, view, PyBUF_SIMPLE);
}

static PyObject *
automaton_find(Automaton *self, PyObject *args, PyObject *kwargs)
{
    PyObject *haystack;
    int overlapping = 0;
    static char *keywords[] = {"haystack", "overlapping", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$p:find_matches_as_indexes", keywords,
                                     &haystack, &overlapping)) {
        return NULL;
    }
    if (!overlapping) {
        PyErr_SetString(PyExc_ValueError, "only overlapping searches are supported");
        return NULL;
    }
    Py_buffer view;
    if (haystack_bytes(haystack, &view) < 0) {
        return NULL;
    }
    PyObject *found = PyList_New(0);
    if (found != NULL
        && automaton_search(self, view.buf, view.len, report_tuple, found) < 0) {
        Py_CLEAR(found);
    }
    PyBuffer_Release(&view);
    return found;
}

static PyObject *
automaton_scan(Automaton *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "scan() takes 5 arguments");
        return NULL;
    }
    Sorting sorting;
    if (sorting_init(&sorting, args[1], args[2], args[3], args[4]) < 0) {
        return NULL;
    }
    Py_buffer view;
    if (haystack_bytes(args[0], &view) < 0) {
        return NULL;
    }
    int rc = -1;
    if (view.len != sorting.n) {
        PyErr_Format(PyExc_ValueError,
                     "the haystack (%zd bytes) must have a byte per character of the text "
                     "(%zd)",
                     view.len, sorting.n);
    }
    else if (PyTuple_GET_SIZE(sorting.meanings) != self->patterns) {
        PyErr_Format(PyExc_ValueError, "%zd meanings for %zd patterns",
                     PyTuple_GET_SIZE(sorting.meanings), self->patterns);
    }
    else {
        rc = automaton_search(self, view.buf, view.len, report_sorted, &sorting);
    }
    PyBuffer_Release(&view);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
automaton_sizeof(Automaton *self, PyObject *unused)
{
    size_t size = sizeof(Automaton)
                  + (size_t)self->patterns * (sizeof(Py_ssize_t) + sizeof(int32_t))
                  + (size_t)self->states * self->classes * sizeof(uint32_t)
                  + (size_t)self->states * 2 * sizeof(int32_t);
    return PyLong_FromSize_t(size);
}

static PyMethodDef automaton_methods[] = {
    {"find_matches_as_indexes", (PyCFunction)(void (*)(void))automaton_find,
     METH_VARARGS | METH_KEYWORDS,
     "find_matches_as_indexes(haystack, overlapping=True) -> list\n\n"
     "Every occurrence of every pattern in ``haystack`` (bytes), as (pattern number, start,\n"
     "end), in the order they end."},
    {"scan", (PyCFunction)(void (*)(void))automaton_scan, METH_FASTCALL,
     "scan(haystack, meanings, text, out, words)\n\n"
     "``scan(self.find_matches_as_indexes(haystack, overlapping=True), meanings, text, out,\n"
     "words)`` without the list of matches: ``haystack`` has a byte per character of\n"
     "``text``."},
    {"__sizeof__", (PyCFunction)automaton_sizeof, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AutomatonType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dyadwatch._speedups.Automaton",
    .tp_basicsize = sizeof(Automaton),
    .tp_dealloc = (destructor)automaton_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Automaton(patterns)\n\nAn Aho-Corasick DFA over ``patterns`` (bytes, none empty).",
    .tp_methods = automaton_methods,
    .tp_new = automaton_new,
};

/* -- Sentences and pairs -----------------------------------------------------------------
 *
 * ``text.sentence_ends`` and ``Gazetteer._sentence_pairs`` (dyadwatch/actors.py), the
 * boundary pattern ``text._BREAK`` matched by hand: a mark ending sentences, the first of
 * its run, more marks, closing quotes or brackets, white space, and no lower-case ASCII
 * letter after it.
 */
static inline int
is_mark(Py_UCS4 ch)
{
    return ch == '.' || ch == '!' || ch == '?' || ch == 0x2026 || ch == 0x061F || ch == 0x3002;
}

static inline int
is_closer(Py_UCS4 ch)
{
    return ch == '"' || ch == '\'' || ch == ')' || ch == ']';
}

typedef struct {
    int kind;
    const void *data;
    PyObject *text;
    PyObject *abbreviations; /* text.ABBREVIATIONS */
    PyObject *starters;      /* text.SENTENCE_STARTERS */
} Line;

#define CHAR(line, i) PyUnicode_READ((line)->kind, (line)->data, (i))

/* The end of the boundary starting at ``p`` (a mark) in text[..hi], or -1 if none starts
   there. */
static Py_ssize_t
boundary_at(const Line *line, Py_ssize_t p, Py_ssize_t hi)
{
    if (p > 0 && is_mark(CHAR(line, p - 1))) {
        return -1;
    }
    Py_ssize_t q = p + 1;
    while (q < hi && is_mark(CHAR(line, q))) {
        q++;
    }
    while (q < hi && is_closer(CHAR(line, q))) {
        q++;
    }
    if (q >= hi || !Py_UNICODE_ISSPACE(CHAR(line, q))) {
        return -1;
    }
    while (q < hi && Py_UNICODE_ISSPACE(CHAR(line, q))) {
        q++;
    }
    if (q < hi) {
        Py_UCS4 ch = CHAR(line, q);
        if (ch >= 'a' && ch <= 'z') {
            return -1;
        }
    }
    return q;
}

/* Whether ``word`` (text[first:mark], opening quotes and brackets stripped) is an
   abbreviation, a single letter, or "no"/"nos" before a digit: 1, 0, or -1 on error. */
static int
is_abbreviation(const Line *line, Py_ssize_t first, Py_ssize_t mark, Py_ssize_t end)
{
    Py_ssize_t size = mark - first;
    if (size > 6) { /* text._LONGEST_ABBREVIATION */
        return 0;
    }
    char lowered[8];
    int ascii = 1;
    for (Py_ssize_t k = 0; k < size; k++) {
        Py_UCS4 ch = CHAR(line, first + k);
        if (ch >= 128) {
            ascii = 0;
            break;
        }
        lowered[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    PyObject *bare;
    if (ascii) {
        if (size == 1) {
            char ch = lowered[0];
            if (ch >= 'a' && ch <= 'z') {
                return 1;
            }
        }
        bare = PyUnicode_FromStringAndSize(lowered, size);
    }
    else {
        PyObject *word = PyUnicode_Substring(line->text, first, mark);
        bare = word == NULL ? NULL : PyObject_CallMethod(word, "lower", NULL);
        Py_XDECREF(word);
    }
    if (bare == NULL) {
        return -1;
    }
    int found = PySet_Contains(line->abbreviations, bare);
    if (found == 0 && !ascii && PyUnicode_GET_LENGTH(bare) == 1) {
        found = Py_UNICODE_ISALPHA(PyUnicode_READ_CHAR(bare, 0));
    }
    if (found == 0 && (PyUnicode_CompareWithASCIIString(bare, "no") == 0
                       || PyUnicode_CompareWithASCIIString(bare, "nos") == 0)) {
        found = Py_UNICODE_ISDIGIT(CHAR(line, end)); /* "No. 10 Downing Street" */
    }
    Py_DECREF(bare);
    return found;
}

/* Whether text[first:mark + 1] ends in a dotted initialism ("U.S."), as
   ``text._INITIALISM`` finds it: two letters or more, each after a full stop or at a word's
   start. */
static int
ends_initialism(const Line *line, Py_ssize_t first, Py_ssize_t mark)
{
    Py_ssize_t at = mark; /* a full stop */
    for (int letters = 1;; letters++) {
        Py_ssize_t letter = at - 1;
        if (letter < first) {
            return 0;
        }
        Py_UCS4 ch = CHAR(line, letter);
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))) {
            return 0;
        }
        if (letters >= 2 && (letter == first || !is_word(CHAR(line, letter - 1)))) {
            return 1;
        }
        at = letter - 1;
        if (at < first || CHAR(line, at) != '.') {
            return 0;
        }
    }
}

/* Whether the word from ``end`` (to the next space or ``hi``), opening quotes and brackets
   stripped, is a typical sentence opener: 1, 0, or -1 on error. */
static int
opens_sentence(const Line *line, Py_ssize_t end, Py_ssize_t hi)
{
    Py_ssize_t stop = end;
    while (stop < hi && CHAR(line, stop) != ' ') {
        stop++;
    }
    PyObject *next = PyUnicode_Substring(line->text, end, stop);
    PyObject *stripped = next == NULL ? NULL : PyObject_CallMethod(next, "strip", "s", "\"'(");
    Py_XDECREF(next);
    if (stripped == NULL) {
        return -1;
    }
    int found = PySet_Contains(line->starters, stripped);
    Py_DECREF(stripped);
    return found;
}

typedef struct {
    Py_ssize_t *ends;
    Py_ssize_t count;
    Py_ssize_t room;
} Ends;

static int
ends_add(Ends *ends, Py_ssize_t end)
{
    if (ends->count == ends->room) {
        Py_ssize_t room = ends->room ? ends->room * 2 : 16;
        Py_ssize_t *grown = PyMem_Resize(ends->ends, Py_ssize_t, room);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        ends->ends = grown;
        ends->room = room;
    }
    ends->ends[ends->count++] = end;
    return 0;
}

/* ``text.sentence_ends(text, lo, hi, until)`` into ``ends`` (emptied first). */
static int
line_ends(const Line *line, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t until, Ends *ends)
{
    ends->count = 0;
    Py_ssize_t start = lo, pos = lo;
    while (pos < hi) {
        /* The next boundary from ``pos``, as a search for the pattern finds it. */
        Py_ssize_t mark = pos, end = -1;
        for (; mark < hi; mark++) {
            if (is_mark(CHAR(line, mark)) && (end = boundary_at(line, mark, hi)) >= 0) {
                break;
            }
        }
        if (end < 0) {
            break;
        }
        pos = end;
        if (end >= hi) {
            break;
        }
        if (CHAR(line, mark) == '.') {
            Py_ssize_t first = mark - 1;
            while (first >= start && CHAR(line, first) != ' ') {
                first--;
            }
            first++;
            if (first < start) {
                first = start;
            }
            Py_ssize_t word = first;
            while (word < mark) {
                Py_UCS4 ch = CHAR(line, word);
                if (ch != '"' && ch != '\'' && ch != '(' && ch != '[') {
                    break;
                }
                word++;
            }
            int abbreviation = is_abbreviation(line, word, mark, end);
            if (abbreviation < 0) {
                return -1;
            }
            if (abbreviation) {
                continue;
            }
            if (mark - first >= 3 && CHAR(line, mark - 2) == '.'
                && ends_initialism(line, first, mark)) {
                int opener = opens_sentence(line, end, hi);
                if (opener < 0) {
                    return -1;
                }
                if (!opener) {
                    continue;
                }
            }
        }
        Py_UCS4 following = CHAR(line, end);
        if (following > 0x7f && Py_UNICODE_ISLOWER(following)) {
            continue;
        }
        if (ends_add(ends, end) < 0) {
            return -1;
        }
        if (end > until) {
            return 0;
        }
        start = end;
    }
    return ends_add(ends, hi);
}

static int
line_init(Line *line, PyObject *text, PyObject *abbreviations, PyObject *starters)
{
    if (!PyUnicode_Check(text) || !PyAnySet_Check(abbreviations) || !PyAnySet_Check(starters)) {
        PyErr_SetString(PyExc_TypeError, "text must be a str, the word lists sets");
        return -1;
    }
    if (PyUnicode_READY(text) < 0) {
        return -1;
    }
    line->kind = PyUnicode_KIND(text);
    line->data = PyUnicode_DATA(text);
    line->text = text;
    line->abbreviations = abbreviations;
    line->starters = starters;
    return 0;
}

static PyObject *
sentence_ends(PyObject *module, PyObject *args)
{
    PyObject *text, *abbreviations, *starters;
    Py_ssize_t lo, hi, until;
    if (!PyArg_ParseTuple(args, "UnnnOO:sentence_ends", &text, &lo, &hi, &until,
                          &abbreviations, &starters)) {
        return NULL;
    }
    Line line;
    if (line_init(&line, text, abbreviations, starters) < 0) {
        return NULL;
    }
    if (lo < 0 || hi < lo || hi > PyUnicode_GET_LENGTH(text)) {
        PyErr_Format(PyExc_ValueError, "line %zd to %zd out of range", lo, hi);
        return NULL;
    }
    Ends ends = {NULL, 0, 0};
    PyObject *out = NULL;
    if (line_ends(&line, lo, hi, until, &ends) == 0 && (out = PyList_New(ends.count))) {
        for (Py_ssize_t k = 0; k < ends.count; k++) {
            PyObject *end = PyLong_FromSsize_t(ends.ends[k]);
            if (end == NULL) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, k, end);
        }
    }
    PyMem_Free(ends.ends);
    return out;
}

/* Whether actors[lo:hi] holds two actors or more: 1, 0, or -1 on error. */
static int
two_actors(PyObject **actors, Py_ssize_t lo, Py_ssize_t hi)
{
    for (Py_ssize_t k = lo + 1; k < hi; k++) {
        int same = PyObject_RichCompareBool(actors[lo], actors[k], Py_EQ);
        if (same <= 0) {
            return same < 0 ? -1 : 1;
        }
    }
    return 0;
}

/* The evidence of one sentence, text[start:end], with mentions[a:b]: as
   ``_sentence_pairs`` records it. */
static int
record_sentence(PyObject *text, PyObject *mentions, PyObject **actors, Py_ssize_t a,
                Py_ssize_t b, Py_ssize_t start, Py_ssize_t end, PyObject *pairs,
                PyObject *evidence_type, PyObject *record)
{
    if (b - a < 2) { /* (white space alone, or one mention: no pair) */
        return 0;
    }
    int rc = -1;
    PyObject *sentence = PyUnicode_Substring(text, start, end);
    PyObject *group = PyList_GetSlice(mentions, a, b);
    PyObject *first = PyLong_FromSsize_t(start), *last = PyLong_FromSsize_t(end);
    PyObject *key = NULL, *evidence = NULL;
    if (!sentence || !group || !first || !last) {
        goto done;
    }
    /* Two actors exactly (the commonest sentence with a pair): the pair's evidence is all
       the mentions, recorded here as ``Gazetteer._record`` records it. */
    PyObject *x = actors[a], *y = NULL;
    int two = 1;
    for (Py_ssize_t k = a + 1; k < b && two; k++) {
        int same = PyObject_RichCompareBool(actors[k], x, Py_EQ);
        if (same == 0 && y != NULL) {
            same = PyObject_RichCompareBool(actors[k], y, Py_EQ);
            two = same != 0;
        }
        else if (same == 0) {
            y = actors[k];
        }
        if (same < 0) {
            goto done;
        }
    }
    if (y == NULL) { /* one actor: no pair (``_record`` would record nothing) */
        rc = 0;
        goto done;
    }
    if (!two) {
        PyObject *names = PyList_New(b - a);
        if (names == NULL) {
            goto done;
        }
        for (Py_ssize_t k = a; k < b; k++) {
            PyList_SET_ITEM(names, k - a, Py_NewRef(actors[k]));
        }
        PyObject *call[6] = {pairs, sentence, first, last, group, names};
        PyObject *done = PyObject_Vectorcall(record, call, 6, NULL);
        Py_DECREF(names);
        if (done == NULL) {
            goto done;
        }
        Py_DECREF(done);
        rc = 0;
        goto done;
    }
    int less = PyObject_RichCompareBool(x, y, Py_LT);
    if (less < 0) {
        goto done;
    }
    key = less ? PyTuple_Pack(2, x, y) : PyTuple_Pack(2, y, x);
    if (key == NULL) {
        goto done;
    }
    PyObject *known = PyDict_GetItemWithError(pairs, key);
    if (known == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (known != NULL) {
        if (!PyList_Check(known) || PyList_GET_SIZE(known) == 0) {
            PyErr_SetString(PyExc_TypeError, "a pair's evidence must be a list");
            goto done;
        }
        PyObject *before = PyObject_GetAttrString(
            PyList_GET_ITEM(known, PyList_GET_SIZE(known) - 1), "start");
        if (before == NULL) {
            goto done;
        }
        int same = PyObject_RichCompareBool(before, first, Py_EQ);
        Py_DECREF(before);
        if (same != 0) {
            rc = same < 0 ? -1 : 0;
            goto done;
        }
    }
    PyObject *call[4] = {sentence, first, last, group};
    evidence = PyObject_Vectorcall(evidence_type, call, 4, NULL);
    if (evidence == NULL) {
        goto done;
    }
    if (known != NULL) {
        rc = PyList_Append(known, evidence);
    }
    else {
        PyObject *list = PyList_New(1);
        if (list == NULL) {
            goto done;
        }
        PyList_SET_ITEM(list, 0, Py_NewRef(evidence));
        rc = PyDict_SetItem(pairs, key, list);
        Py_DECREF(list);
    }
done:
    Py_XDECREF(evidence);
    Py_XDECREF(key);
    Py_XDECREF(sentence);
    Py_XDECREF(group);
    Py_XDECREF(first);
    Py_XDECREF(last);
    return rc;
}

/* First index in starts[lo:hi] whose start is >= x (``right``: > x). */
static Py_ssize_t
bisect(const Py_ssize_t *starts, Py_ssize_t x, Py_ssize_t lo, Py_ssize_t hi, int right)
{
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (right ? starts[mid] <= x : starts[mid] < x) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

static PyObject *
sentence_pairs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "sentence_pairs() takes 8 arguments");
        return NULL;
    }
    PyObject *text = args[0], *mentions = args[1], *names = args[2], *pairs = args[3];
    PyObject *evidence_type = args[4], *record = args[5];
    Line line;
    if (line_init(&line, text, args[6], args[7]) < 0) {
        return NULL;
    }
    if (!PyList_Check(mentions) || !PyList_Check(names) || !PyDict_Check(pairs)
        || PyList_GET_SIZE(names) != PyList_GET_SIZE(mentions)) {
        PyErr_SetString(PyExc_TypeError,
                        "sentence_pairs() takes mentions and their actors as lists of one "
                        "length, and a dict");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(mentions), n = PyUnicode_GET_LENGTH(text);
    PyObject **actors = PyMem_New(PyObject *, count ? count : 1);
    Py_ssize_t *starts = PyMem_New(Py_ssize_t, count ? count : 1);
    Ends ends = {NULL, 0, 0};
    int rc = -1;
    if (actors == NULL || starts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *mention = PyList_GET_ITEM(mentions, k);
        if (!PyTuple_Check(mention) || PyTuple_GET_SIZE(mention) < 4
            || as_index(PyTuple_GET_ITEM(mention, 3), "a mention's start", &starts[k]) < 0) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "a mention must be a Mention");
            }
            goto done;
        }
        if (starts[k] < 0 || starts[k] > n || (k && starts[k] < starts[k - 1])) {
            PyErr_SetString(PyExc_ValueError, "mentions must be in the text, in order");
            goto done;
        }
    }
    /* The actors are borrowed from a copy of ``names``, which a callback cannot change. */
    PyObject *held = PyList_GetSlice(names, 0, count);
    if (held == NULL) {
        goto done;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        actors[k] = PyList_GET_ITEM(held, k);
    }
    Py_ssize_t i = 0;
    while (i < count) {
        Py_ssize_t first = starts[i], line_end = first;
        while (line_end < n && CHAR(&line, line_end) != '\n') {
            line_end++;
        }
        Py_ssize_t j = bisect(starts, line_end, i + 1, count, 1);
        int several = j - i >= 2 ? two_actors(actors, i, j) : 0;
        if (several < 0) {
            goto release;
        }
        if (several) {
            Py_ssize_t line_start = first;
            while (line_start > 0 && CHAR(&line, line_start - 1) != '\n') {
                line_start--;
            }
            if (line_ends(&line, line_start, line_end, starts[j - 1], &ends) < 0) {
                goto release;
            }
            Py_ssize_t lo = line_start, k = i;
            for (Py_ssize_t e = 0; e < ends.count; e++) {
                Py_ssize_t hi = ends.ends[e];
                Py_ssize_t h = bisect(starts, hi, k, j, 0);
                int pair = h - k >= 2 ? two_actors(actors, k, h) : 0;
                if (pair < 0) {
                    goto release;
                }
                if (pair) {
                    /* The sentence trimmed of white space; a mention in the white space
                       around it is in none. */
                    Py_ssize_t start = lo, end = hi;
                    while (start < hi && Py_UNICODE_ISSPACE(CHAR(&line, start))) {
                        start++;
                    }
                    while (end > start && Py_UNICODE_ISSPACE(CHAR(&line, end - 1))) {
                        end--;
                    }
                    Py_ssize_t a = k, b = h;
                    while (a < b && starts[a] < start) {
                        a++;
                    }
                    while (b > a && starts[b - 1] >= end) {
                        b--;
                    }
                    if (record_sentence(text, mentions, actors, a, b, start, end, pairs,
                                        evidence_type, record) < 0) {
                        goto release;
                    }
                }
                k = h;
                lo = hi;
            }
        }
        i = j;
    }
    rc = 0;
release:
    Py_DECREF(held);
done:
    PyMem_Free(actors);
    PyMem_Free(starts);
    PyMem_Free(ends.ends);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL, scan_doc},
    {"select", (PyCFunction)(void (*)(void))select_mentions, METH_FASTCALL, select_doc},
    {"prepare", prepare, METH_O, prepare_doc},
    {"sentence_ends", sentence_ends, METH_VARARGS,
     "sentence_ends(text, lo, hi, until, abbreviations, starters) -> list\n\n"
     "``text.sentence_ends(text, lo, hi, until)``."},
    {"sentence_pairs", (PyCFunction)(void (*)(void))sentence_pairs, METH_FASTCALL,
     "sentence_pairs(text, mentions, actors, pairs, evidence, record, abbreviations, "
     "starters)\n\n``Gazetteer._sentence_pairs(text, mentions, pairs, actors)``, with the\n"
     "evidence class and ``Gazetteer._record`` for sentences of more than two mentions."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "dyadwatch._speedups",
    "Compiled forms of alias matching's per-match loops (see dyadwatch/actors.py).",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    for (Py_UCS4 ch = 0; ch < 128; ch++) {
        ascii_word[ch] = ch == '_' || Py_UNICODE_ISALNUM(ch);
    }
    if (PyType_Ready(&AutomatonType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddObjectRef(module, "Automaton", (PyObject *)&AutomatonType) < 0) {
        Py_CLEAR(module);
    }
    return module;
}
