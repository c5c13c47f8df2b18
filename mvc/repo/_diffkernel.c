/* How much one block of a tensor changed, in one pass (docs/design.md, "Diff: the compiled kernel").
 *
 * compare(kind, a, b) -> (bytes_changed, sum a*a, sum b*b, sum (a-b)^2, max |a-b|)
 *
 * a and b: two buffers of the same length, a whole number of little-endian elements of ``kind``
 * (0 F32, 1 F16, 2 BF16).  Every element is widened to double before any arithmetic, so the sums
 * agree with numpy's float64 ones to ~1e-13; they are kept in several lanes (and the caller adds
 * the blocks' sums with math.fsum), never reassociated by the compiler.  max |a-b| skips NaN; a
 * NaN difference shows in sum (a-b)^2, which the caller reads as "undefined".
 *
 * Why C: numpy 2 has no vectorised half-precision cast here (F16 -> float64 at ~2 ns an element,
 * float64 arithmetic in five more passes), which held an F16 diff at ~3.8x the verified read of
 * its bytes; this loop reads each byte once.  On x86-64 a second copy of the loop is compiled for
 * AVX2 + F16C and chosen at run time, so the module runs on any x86-64 CPU.  The module holds no
 * state, allocates nothing, and reads only within the two buffers it is given; it releases the
 * GIL while it runs, so the diff's threads compare tensors in parallel.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { KIND_F32 = 0, KIND_F16 = 1, KIND_BF16 = 2 };
static const Py_ssize_t ITEMSIZE[] = {4, 2, 2};

typedef struct {
    Py_ssize_t changed;
    double a2, b2, d2, max_abs;
} Totals;

/* ---- portable element loads (any CPU, any compiler) ---- */

static inline uint16_t load16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline uint32_t load32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline float bits_to_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* IEEE half -> float, exactly: the 15 bits of exponent and mantissa moved into a float's place,
 * scaled by 2^112 (the difference of the two exponent biases; subnormal halves come out right as
 * float subnormals scaled up), infinities and NaNs by hand. */
static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t rest = h & 0x7fffu;
    if (rest >= 0x7c00u)
        return bits_to_float(sign | 0x7f800000u | ((rest & 0x3ffu) << 13));
    float v = bits_to_float(rest << 13) * 5.192296858534828e33f; /* 2^112 */
    uint32_t bits;
    memcpy(&bits, &v, 4);
    return bits_to_float(bits | sign);
}

static inline double element(int kind, const unsigned char *p) {
    switch (kind) {
    case KIND_F32: return (double)bits_to_float(load32(p));
    case KIND_F16: return (double)half_to_float(load16(p));
    default: return (double)bits_to_float((uint32_t)load16(p) << 16);
    }
}

static inline int nonzero_bytes(const unsigned char *a, const unsigned char *b, Py_ssize_t size) {
    int n = 0;
    for (Py_ssize_t k = 0; k < size; k++)
        n += a[k] != b[k];
    return n;
}

#define LANES 4

/* Elements [start, count) one at a time, four lanes of sums (numbered by element, so the lanes
 * match the vector loop's when it hands its tail here). */
static void compare_portable(int kind, const unsigned char *a, const unsigned char *b, Py_ssize_t start,
                             Py_ssize_t count, Totals *t) {
    const Py_ssize_t size = ITEMSIZE[kind];
    double a2[LANES] = {0}, b2[LANES] = {0}, d2[LANES] = {0};
    double max_abs = t->max_abs;
    Py_ssize_t changed = 0;
    for (Py_ssize_t i = start; i < count; i++) {
        const unsigned char *pa = a + i * size, *pb = b + i * size;
        double x = element(kind, pa), y = element(kind, pb), d = x - y;
        int lane = (int)(i % LANES);
        changed += nonzero_bytes(pa, pb, size);
        a2[lane] += x * x;
        b2[lane] += y * y;
        d2[lane] += d * d;
        if (fabs(d) > max_abs)
            max_abs = fabs(d);
    }
    for (int k = 0; k < LANES; k++) {
        t->a2 += a2[k];
        t->b2 += b2[k];
        t->d2 += d2[k];
    }
    t->changed += changed;
    t->max_abs = max_abs;
}

/* ---- x86-64: AVX2 + F16C, eight elements a step ---- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

#define AVX2 __attribute__((target("avx2,f16c")))

/* Bytes of x that are not zero. */
AVX2 static inline int nonzero_in_128(__m128i x) {
    return 16 - __builtin_popcount((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_setzero_si128())));
}

AVX2 static inline int nonzero_in_256(__m256i x) {
    return 32 - __builtin_popcount((unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_setzero_si256())));
}

/* Eight floats widened to two vectors of four doubles, and added to the running sums. */
#define ACCUMULATE(fa, fb)                                                                       \
    do {                                                                                         \
        __m256d xl = _mm256_cvtps_pd(_mm256_castps256_ps128(fa));                                \
        __m256d xh = _mm256_cvtps_pd(_mm256_extractf128_ps(fa, 1));                              \
        __m256d yl = _mm256_cvtps_pd(_mm256_castps256_ps128(fb));                                \
        __m256d yh = _mm256_cvtps_pd(_mm256_extractf128_ps(fb, 1));                              \
        __m256d dl = _mm256_sub_pd(xl, yl), dh = _mm256_sub_pd(xh, yh);                         \
        a2l = _mm256_add_pd(a2l, _mm256_mul_pd(xl, xl));                                         \
        a2h = _mm256_add_pd(a2h, _mm256_mul_pd(xh, xh));                                         \
        b2l = _mm256_add_pd(b2l, _mm256_mul_pd(yl, yl));                                         \
        b2h = _mm256_add_pd(b2h, _mm256_mul_pd(yh, yh));                                         \
        d2l = _mm256_add_pd(d2l, _mm256_mul_pd(dl, dl));                                         \
        d2h = _mm256_add_pd(d2h, _mm256_mul_pd(dh, dh));                                         \
        /* max_pd(m, v) keeps m where v is NaN: NaN shows in d2 instead */                      \
        mx = _mm256_max_pd(_mm256_andnot_pd(sign, dh), _mm256_max_pd(_mm256_andnot_pd(sign, dl), mx)); \
    } while (0)

AVX2 static Py_ssize_t compare_avx2(int kind, const unsigned char *a, const unsigned char *b, Py_ssize_t count,
                                    Totals *t) {
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d a2l = _mm256_setzero_pd(), a2h = a2l, b2l = a2l, b2h = a2l, d2l = a2l, d2h = a2l, mx = a2l;
    Py_ssize_t changed = 0, i = 0;
    if (kind == KIND_F32) {
        for (; i + 8 <= count; i += 8) {
            __m256i ia = _mm256_loadu_si256((const __m256i *)(a + 4 * i));
            __m256i ib = _mm256_loadu_si256((const __m256i *)(b + 4 * i));
            changed += nonzero_in_256(_mm256_xor_si256(ia, ib));
            __m256 fa = _mm256_castsi256_ps(ia), fb = _mm256_castsi256_ps(ib);
            ACCUMULATE(fa, fb);
        }
    } else {
        for (; i + 8 <= count; i += 8) {
            __m128i ha = _mm_loadu_si128((const __m128i *)(a + 2 * i));
            __m128i hb = _mm_loadu_si128((const __m128i *)(b + 2 * i));
            changed += nonzero_in_128(_mm_xor_si128(ha, hb));
            __m256 fa, fb;
            if (kind == KIND_F16) {
                fa = _mm256_cvtph_ps(ha);
                fb = _mm256_cvtph_ps(hb);
            } else { /* BF16: the 16 bits are the top half of a float */
                fa = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(ha), 16));
                fb = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(hb), 16));
            }
            ACCUMULATE(fa, fb);
        }
    }
    double lanes[4];
    __m256d sums[3] = {_mm256_add_pd(a2l, a2h), _mm256_add_pd(b2l, b2h), _mm256_add_pd(d2l, d2h)};
    double *totals[3] = {&t->a2, &t->b2, &t->d2};
    for (int k = 0; k < 3; k++) {
        _mm256_storeu_pd(lanes, sums[k]);
        *totals[k] += (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    }
    _mm256_storeu_pd(lanes, mx);
    for (int k = 0; k < 4; k++)
        if (lanes[k] > t->max_abs)
            t->max_abs = lanes[k];
    t->changed += changed;
    return i;
}

static int have_avx2(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
    }
    return known;
}
#endif

/* ---- the Python function ---- */

static int use_vector = 1; /* set_vector(False) holds the portable loop, for tests on one CPU */

static PyObject *compare_buffers(int kind, Py_buffer *va, Py_buffer *vb) {
    if (kind < KIND_F32 || kind > KIND_BF16)
        return PyErr_Format(PyExc_ValueError, "unknown element kind %d (0 F32, 1 F16, 2 BF16)", kind);
    if (va->len != vb->len || va->len % ITEMSIZE[kind])
        return PyErr_Format(PyExc_ValueError,
                            "buffers of %zd and %zd bytes are not the same whole number of %zd-byte elements",
                            va->len, vb->len, ITEMSIZE[kind]);
    Py_ssize_t count = va->len / ITEMSIZE[kind], vector_count = 0;
    const unsigned char *a = va->buf, *b = vb->buf;
    Totals t = {0, 0.0, 0.0, 0.0, 0.0};
    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_AVX2_PATH
    if (use_vector && have_avx2())
        vector_count = compare_avx2(kind, a, b, count, &t);
#endif
    compare_portable(kind, a, b, vector_count, count, &t);
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(ndddd)", t.changed, t.a2, t.b2, t.d2, t.max_abs);
}

static PyObject *compare(PyObject *self, PyObject *args) {
    int kind;
    Py_buffer va, vb;
    if (!PyArg_ParseTuple(args, "iy*y*:compare", &kind, &va, &vb))
        return NULL;
    PyObject *result = compare_buffers(kind, &va, &vb);
    PyBuffer_Release(&va);
    PyBuffer_Release(&vb);
    return result;
}

static PyObject *set_vector(PyObject *self, PyObject *arg) {
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    use_vector = on;
    Py_RETURN_NONE;
}

static PyObject *vector_path(PyObject *self, PyObject *unused) {
#ifdef HAVE_AVX2_PATH
    if (use_vector && have_avx2())
        return PyUnicode_FromString("avx2+f16c");
#endif
    return PyUnicode_FromString("portable");
}

static PyMethodDef methods[] = {
    {"compare", compare, METH_VARARGS,
     "compare(kind, a, b) -> (bytes_changed, a2, b2, d2, max_abs): one block of two tensors, one pass."},
    {"set_vector", set_vector, METH_O, "set_vector(on): allow (True, the default) or refuse the vector loop."},
    {"vector_path", vector_path, METH_NOARGS, "The loop compare() runs on this CPU: 'avx2+f16c' or 'portable'."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_diffkernel", "How much one block of a tensor changed, in one pass (mvc diff).", 0, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__diffkernel(void) { return PyModule_Create(&module); }
