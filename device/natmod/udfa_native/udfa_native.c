// udfa_native: the plain kernel's hot loops (device/udfa/kernels/plain.py) in C, as a
// MicroPython dynamic native module (one .mpy per architecture, tools/build_native.sh).
// Bit-identical to plain.py: the same rounding rules on the same array buffers.
//
// Every intermediate fits an int32 under the model and trainer bounds (dfa.check_bounds,
// model.Dense.wmax, udfa.les.check_bounds; see kernels/viper.py for the list):
//   forward |h| < 2^30, deltas |(e R) * slope| < 2^30, updates |acc| + offset < 2^30,
// so int32 sums are Python's exact ints. Shifts above 31 give the same floor as 31 for
// |v| < 2^30 and are clamped to 31 by the callers (a C shift by 32 or more is undefined).
// Signed right shifts are arithmetic (floor) with the GCC toolchains used to build this.
//
// Cortex-M0+ notes: outputs are computed four at a time with their sums in registers, so
// a multiply-accumulate is one load, one multiply and one add; inputs that are zero are
// gathered out once per row (forward) or column (update), as plain.py skips them.
// Nothing here allocates: every buffer comes from the caller.
#include "py/dynruntime.h"

// ---- buffers ---------------------------------------------------------------------------

enum { T_U8, T_I8, T_I16, T_I32 };

// The typecode of an array, bytearray or memoryview, as one of T_*; any other is refused.
static int elem_type(const mp_buffer_info_t *bi) {
    switch (bi->typecode) {
        case 'B':
        case BYTEARRAY_TYPECODE:
            return T_U8;
        case 'b':
            return T_I8;
        case 'h':
            return T_I16;
        case 'i':
            return T_I32;
    }
    mp_raise_TypeError(MP_ERROR_TEXT("udfa_native: buffers are arrays of B, b, h or i"));
}

static const int ITEM_SIZE[] = {1, 1, 2, 4};

// The data of buffer o, which must hold n elements of a type in `types` (a bit mask of
// 1 << T_*); its type goes to *type when type is not NULL.
static void *get(mp_obj_t o, mp_int_t n, int types, int *type) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, MP_BUFFER_RW);
    int t = elem_type(&bi);
    if (!(types & (1 << t))) {
        mp_raise_TypeError(MP_ERROR_TEXT("udfa_native: a buffer of the wrong type"));
    }
    if (n < 0 || bi.len < (size_t)n * ITEM_SIZE[t]) {
        mp_raise_ValueError(MP_ERROR_TEXT("udfa_native: a buffer too short for its sizes"));
    }
    if (type) {
        *type = t;
    }
    return bi.buf;
}

#define U8 (1 << T_U8)
#define I8 (1 << T_I8)
#define I16 (1 << T_I16)
#define I32 (1 << T_I32)
#define INPUTS (U8 | I8 | I16)  // what a layer's input buffer may be

static inline int clamp8(int32_t z) {
    return z < -128 ? -128 : z > 127 ? 127 : z;
}

// ---- nonzero terms --------------------------------------------------------------------
// A sum over inputs skips the zero ones (as plain.py does): they are gathered once, as
// (value, offset of their row in the other operand) pairs in the caller's int32 scratch
// buffer nz, so each block of outputs then loops over the nonzero terms only.

// nz <- the nonzero x[i * stride] for i < n, with offsets i * row; returns their count
#define GATHER(NAME, T) \
    static int NAME(const T *x, int n, int stride, int row, int32_t *nz) { \
        int k = 0; \
        for (int i = 0; i < n; i++, x += stride) { \
            int32_t v = *x; \
            if (v) { \
                nz[2 * k] = v; \
                nz[2 * k + 1] = i * row; \
                k++; \
            } \
        } \
        return k; \
    }

GATHER(gather_u8, uint8_t)
GATHER(gather_i8, int8_t)
GATHER(gather_i16, int16_t)

static int gather(const void *x, int type, int n, int stride, int row, int32_t *nz) {
    if (type == T_U8) {
        return gather_u8(x, n, stride, row, nz);
    } else if (type == T_I8) {
        return gather_i8(x, n, stride, row, nz);
    }
    return gather_i16(x, n, stride, row, nz);
}

// ---- forward -------------------------------------------------------------------------
// a = act(clamp((x W + bias_in * b) >> shift)); s = slope (when s is not NULL)

typedef struct {
    const int16_t *W, *b;
    const uint8_t *values, *slopes;
    int8_t *a;
    uint8_t *s;
    int n_in, n_out, shift, bias_in;
} fwd_t;

static inline void activate(const fwd_t *f, int o, int32_t h) {
    int z = clamp8(h >> f->shift) + 128;
    f->a[o] = (int8_t)f->values[z];
    if (f->s) {
        f->s[o] = f->slopes[z];
    }
}

// One sample's outputs from its k nonzero inputs nz (offsets into W), into a[ao..]
static void forward_row(const fwd_t *f, const int32_t *nz, int k, int ao) {
    const int n_out = f->n_out;
    const int16_t *W = f->W;
    const int32_t *end = nz + 2 * k;
    int j = 0;
    for (; j + 4 <= n_out; j += 4) {
        int32_t h0 = f->bias_in * f->b[j], h1 = f->bias_in * f->b[j + 1];
        int32_t h2 = f->bias_in * f->b[j + 2], h3 = f->bias_in * f->b[j + 3];
        for (const int32_t *t = nz; t < end; t += 2) {
            int32_t v = t[0];
            const int16_t *w = W + t[1] + j;
            h0 += v * w[0];
            h1 += v * w[1];
            h2 += v * w[2];
            h3 += v * w[3];
        }
        activate(f, ao + j, h0);
        activate(f, ao + j + 1, h1);
        activate(f, ao + j + 2, h2);
        activate(f, ao + j + 3, h3);
    }
    for (; j < n_out; j++) {
        int32_t h = f->bias_in * f->b[j];
        for (const int32_t *t = nz; t < end; t += 2) {
            h += t[0] * W[t[1] + j];
        }
        activate(f, ao + j, h);
    }
}

// forward(x, W, b, values, slopes, a, s or None, n_in, n_out, rows, shift, bias_in, nz)
// nz: int32 scratch of 2 * n_in
static mp_obj_t forward(size_t n_args, const mp_obj_t *args) {
    fwd_t f;
    f.n_in = mp_obj_get_int(args[7]);
    f.n_out = mp_obj_get_int(args[8]);
    int rows = mp_obj_get_int(args[9]);
    f.shift = mp_obj_get_int(args[10]);
    f.bias_in = mp_obj_get_int(args[11]);
    if (f.shift < 0 || f.shift > 31) {
        mp_raise_ValueError(MP_ERROR_TEXT("udfa_native: shift must be 0..31"));
    }
    int xt;
    const uint8_t *x = get(args[0], rows * f.n_in, INPUTS, &xt);
    f.W = get(args[1], f.n_in * f.n_out, I16, NULL);
    f.b = get(args[2], f.n_out, I16, NULL);
    f.values = get(args[3], 256, U8 | I8, NULL);
    f.slopes = get(args[4], 256, U8 | I8, NULL);
    f.a = get(args[5], rows * f.n_out, U8 | I8, NULL);
    f.s = args[6] == mp_const_none ? NULL : get(args[6], rows * f.n_out, U8 | I8, NULL);
    int32_t *nz = get(args[12], 2 * f.n_in, I32, NULL);
    int row_bytes = f.n_in * ITEM_SIZE[xt];
    for (int r = 0; r < rows; r++) {
        int k = gather(x + r * row_bytes, xt, f.n_in, 1, f.n_out, nz);
        forward_row(&f, nz, k, r * f.n_out);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(forward_obj, 13, 13, forward);

// ---- deltas --------------------------------------------------------------------------

// output_delta(y, s, labels, e, d, n, rows, hi, lo): e = y - target, d = e * slope
static mp_obj_t output_delta(size_t n_args, const mp_obj_t *args) {
    int n = mp_obj_get_int(args[5]);
    int rows = mp_obj_get_int(args[6]);
    int32_t hi = mp_obj_get_int(args[7]);
    int32_t lo = mp_obj_get_int(args[8]);
    const int8_t *y = get(args[0], rows * n, I8, NULL);
    const uint8_t *s = get(args[1], rows * n, U8, NULL);
    const uint8_t *labels = get(args[2], rows, U8, NULL);
    int32_t *e = get(args[3], rows * n, I32, NULL);
    int32_t *d = get(args[4], rows * n, I32, NULL);
    for (int r = 0; r < rows; r++) {
        int t = labels[r], o = r * n;
        for (int j = 0; j < n; j++) {
            int32_t ev = y[o + j] - (j == t ? hi : lo);
            e[o + j] = ev;
            d[o + j] = ev * s[o + j];
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(output_delta_obj, 9, 9, output_delta);

// hidden_delta(e, R, s, d, n_cls, n, rows, shift): d = ((e R) * slope) >> shift
static mp_obj_t hidden_delta(size_t n_args, const mp_obj_t *args) {
    int n_cls = mp_obj_get_int(args[4]);
    int n = mp_obj_get_int(args[5]);
    int rows = mp_obj_get_int(args[6]);
    int shift = mp_obj_get_int(args[7]);
    if (shift < 0 || shift > 31) {
        mp_raise_ValueError(MP_ERROR_TEXT("udfa_native: shift must be 0..31"));
    }
    const int32_t *e = get(args[0], rows * n_cls, I32, NULL);
    const int8_t *R = get(args[1], n_cls * n, I8, NULL);
    const uint8_t *s = get(args[2], rows * n, U8, NULL);
    int32_t *d = get(args[3], rows * n, I32, NULL);
    for (int r = 0; r < rows; r++) {
        const int32_t *er = e + r * n_cls;
        int32_t *dr = d + r * n;
        const uint8_t *sr = s + r * n;
        for (int j = 0; j < n; j++) {
            int32_t g = 0;
            const int8_t *Rc = R + j;
            for (int c = 0; c < n_cls; c++, Rc += n) {
                g += er[c] * *Rc;
            }
            dr[j] = (g * sr[j]) >> shift;
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(hidden_delta_obj, 8, 8, hidden_delta);

// ---- update --------------------------------------------------------------------------
// W -= (x^T d + offset) >> lr_shift, b likewise with the constant input bias_in; clamped

typedef struct {
    const int32_t *d;
    int16_t *W;
    int n_in, n_out, rows, lr_shift, offset, wmax;
} upd_t;

static inline void apply(const upd_t *u, int16_t *w, int32_t acc) {
    int32_t v = *w - ((acc + u->offset) >> u->lr_shift);
    *w = v > u->wmax ? u->wmax : v < -u->wmax ? -u->wmax : v;
}

// Row Wr of the weights from the k nonzero inputs nz of its column (offsets into d)
static void update_row(const upd_t *u, int16_t *Wr, const int32_t *nz, int k) {
    const int n_out = u->n_out;
    const int32_t *end = nz + 2 * k;
    int j = 0;
    for (; j + 4 <= n_out; j += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (const int32_t *t = nz; t < end; t += 2) {
            int32_t v = t[0];
            const int32_t *dr = u->d + t[1] + j;
            a0 += v * dr[0];
            a1 += v * dr[1];
            a2 += v * dr[2];
            a3 += v * dr[3];
        }
        apply(u, Wr + j, a0);
        apply(u, Wr + j + 1, a1);
        apply(u, Wr + j + 2, a2);
        apply(u, Wr + j + 3, a3);
    }
    for (; j < n_out; j++) {
        int32_t a = 0;
        for (const int32_t *t = nz; t < end; t += 2) {
            a += t[0] * u->d[t[1] + j];
        }
        apply(u, Wr + j, a);
    }
}

// update(x, d, W, b, n_in, n_out, rows, lr_shift, offset, wmax, bias_in, nz)
// nz: int32 scratch of 2 * rows
static mp_obj_t update(size_t n_args, const mp_obj_t *args) {
    upd_t u;
    u.n_in = mp_obj_get_int(args[4]);
    u.n_out = mp_obj_get_int(args[5]);
    u.rows = mp_obj_get_int(args[6]);
    u.lr_shift = mp_obj_get_int(args[7]);
    u.offset = mp_obj_get_int(args[8]);
    u.wmax = mp_obj_get_int(args[9]);
    int32_t bias_in = mp_obj_get_int(args[10]);
    if (u.lr_shift < 0 || u.lr_shift > 31) {
        mp_raise_ValueError(MP_ERROR_TEXT("udfa_native: lr_shift must be 0..31"));
    }
    int xt;
    const uint8_t *x = get(args[0], u.rows * u.n_in, INPUTS, &xt);
    u.d = get(args[1], u.rows * u.n_out, I32, NULL);
    u.W = get(args[2], u.n_in * u.n_out, I16, NULL);
    int16_t *b = get(args[3], u.n_out, I16, NULL);
    int32_t *nz = get(args[11], 2 * u.rows, I32, NULL);
    int size = ITEM_SIZE[xt];
    for (int i = 0; i < u.n_in; i++) {
        // an all-zero input column sums to 0: offset < 2^lr_shift, no change (as plain.py)
        int k = gather(x + i * size, xt, u.rows, u.n_in, u.n_out, nz);
        if (k) {
            update_row(&u, u.W + i * u.n_out, nz, k);
        }
    }
    for (int j = 0; j < u.n_out; j++) {
        int32_t a = 0;
        for (int r = 0; r < u.rows; r++) {
            a += u.d[r * u.n_out + j];
        }
        apply(&u, b + j, a * bias_in);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(update_obj, 12, 12, update);

// ---- argmax --------------------------------------------------------------------------

// argmax(y, rows, n, out): out[r] = index of the largest y in row r (the first on ties)
static mp_obj_t argmax(size_t n_args, const mp_obj_t *args) {
    int rows = mp_obj_get_int(args[1]);
    int n = mp_obj_get_int(args[2]);
    const int8_t *y = get(args[0], rows * n, I8, NULL);
    uint8_t *out = get(args[3], rows, U8, NULL);
    for (int r = 0; r < rows; r++) {
        const int8_t *yr = y + r * n;
        int best = 0;
        for (int j = 1; j < n; j++) {
            if (yr[j] > yr[best]) {
                best = j;
            }
        }
        out[r] = best;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(argmax_obj, 4, 4, argmax);


// ---- conv ops (udfa.conv's plain loops; viper_conv.py has the same in viper) -------------
// Sizes: rows samples of H x W positions and C channels, flat (b, y, x, c) order.

// a / b for a >= 0, b > 0 by subtraction: the Cortex-M0+ has no divide instruction and a
// native module links no libgcc; the quotients here are small (sizes over pool or grid)
static int udiv(int a, int b) {
    int q = 0;
    while (a >= b) {
        a -= b;
        q++;
    }
    return q;
}

// im2col(x, P, rows, H, W, C, k): the k x k x C patch around each position, zero padded
static mp_obj_t im2col(size_t n_args, const mp_obj_t *args) {
    int rows = mp_obj_get_int(args[2]), H = mp_obj_get_int(args[3]);
    int W = mp_obj_get_int(args[4]), C = mp_obj_get_int(args[5]), k = mp_obj_get_int(args[6]);
    int pad = k >> 1, n_in = k * k * C;
    const uint8_t *x = get(args[0], rows * H * W * C, U8 | I8, NULL);  // bytes, copied as such
    uint8_t *P = get(args[1], rows * H * W * n_in, U8 | I8, NULL);
    for (int b = 0; b < rows; b++) {
        const uint8_t *xb = x + b * H * W * C;
        for (int y = 0; y < H; y++) {
            for (int x0 = 0; x0 < W; x0++) {
                for (int dy = 0; dy < k; dy++) {
                    int yy = y + dy - pad;
                    for (int dx = 0; dx < k; dx++) {
                        int xx = x0 + dx - pad;
                        if (yy >= 0 && yy < H && xx >= 0 && xx < W) {
                            const uint8_t *src = xb + (yy * W + xx) * C;
                            for (int c = 0; c < C; c++) {
                                *P++ = src[c];
                            }
                        } else {
                            for (int c = 0; c < C; c++) {
                                *P++ = 0;
                            }
                        }
                    }
                }
            }
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(im2col_obj, 7, 7, im2col);

// maxpool(a, out, idx, rows, H, W, C, p): the max of each p x p window and the offset
// dy * p + dx of its first maximum in scan order
static mp_obj_t maxpool(size_t n_args, const mp_obj_t *args) {
    int rows = mp_obj_get_int(args[3]), H = mp_obj_get_int(args[4]);
    int W = mp_obj_get_int(args[5]), C = mp_obj_get_int(args[6]), p = mp_obj_get_int(args[7]);
    if (p < 1) {
        mp_raise_ValueError(MP_ERROR_TEXT("udfa_native: pool must be >= 1"));
    }
    int Ho = udiv(H, p), Wo = udiv(W, p);
    const int8_t *a = get(args[0], rows * H * W * C, I8, NULL);
    int8_t *out = get(args[1], rows * Ho * Wo * C, I8, NULL);
    uint8_t *idx = get(args[2], rows * Ho * Wo * C, U8, NULL);
    for (int b = 0; b < rows; b++) {
        for (int oy = 0; oy < Ho; oy++) {
            for (int ox = 0; ox < Wo; ox++) {
                int o = ((b * Ho + oy) * Wo + ox) * C;
                int base = (b * H + oy * p) * W + ox * p;
                for (int c = 0; c < C; c++) {
                    int best = a[base * C + c], where = 0;
                    for (int dy = 0; dy < p; dy++) {
                        for (int dx = 0; dx < p; dx++) {
                            int v = a[(base + dy * W + dx) * C + c];
                            if (v > best) {
                                best = v;
                                where = dy * p + dx;
                            }
                        }
                    }
                    out[o + c] = best;
                    idx[o + c] = where;
                }
            }
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(maxpool_obj, 8, 8, maxpool);

// gridsum(a, out, rows, H, W, C, g): each channel's sum over each cell of a g x g grid
// (|sum| <= cell * 127 < 2^15); gridspread(gg, out, ...) is its backward: every position
// of a cell gets the cell's gradient
static mp_obj_t grid(size_t n_args, const mp_obj_t *args, int spread) {
    int rows = mp_obj_get_int(args[2]), H = mp_obj_get_int(args[3]);
    int W = mp_obj_get_int(args[4]), C = mp_obj_get_int(args[5]), g = mp_obj_get_int(args[6]);
    if (g < 1) {
        mp_raise_ValueError(MP_ERROR_TEXT("udfa_native: grid must be >= 1"));
    }
    const int8_t *a = NULL;
    int16_t *sums = NULL;
    const int32_t *gg = NULL;
    int32_t *out = NULL;
    if (spread) {
        gg = get(args[0], rows * g * g * C, I32, NULL);
        out = get(args[1], rows * H * W * C, I32, NULL);
    } else {
        a = get(args[0], rows * H * W * C, I8, NULL);
        sums = get(args[1], rows * g * g * C, I16, NULL);
    }
    for (int b = 0; b < rows; b++) {
        for (int gy = 0; gy < g; gy++) {
            int y0 = udiv(gy * H, g), y1 = udiv((gy + 1) * H, g);  // floors, as Python's //
            for (int gx = 0; gx < g; gx++) {
                int x0 = udiv(gx * W, g), x1 = udiv((gx + 1) * W, g);
                int o = (b * g * g + gy * g + gx) * C;
                for (int c = 0; c < C; c++) {
                    int32_t sum = 0;
                    for (int y = y0; y < y1; y++) {
                        for (int x = x0; x < x1; x++) {
                            int q = ((b * H + y) * W + x) * C + c;
                            if (spread) {
                                out[q] = gg[o + c];
                            } else {
                                sum += a[q];
                            }
                        }
                    }
                    if (!spread) {
                        sums[o + c] = sum;
                    }
                }
            }
        }
    }
    return mp_const_none;
}

static mp_obj_t gridsum(size_t n_args, const mp_obj_t *args) {
    return grid(n_args, args, 0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(gridsum_obj, 7, 7, gridsum);

static mp_obj_t gridspread(size_t n_args, const mp_obj_t *args) {
    return grid(n_args, args, 1);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(gridspread_obj, 7, 7, gridspread);

// back(d, W, g, rows, n_in, n_cls, shift): g = (d W^T) >> shift, W: n_in x n_cls
// (|d W^T| < 2^30: udfa.les.check_bounds)
static mp_obj_t back(size_t n_args, const mp_obj_t *args) {
    int rows = mp_obj_get_int(args[3]), n_in = mp_obj_get_int(args[4]);
    int n_cls = mp_obj_get_int(args[5]), shift = mp_obj_get_int(args[6]);
    if (shift < 0 || shift > 31) {
        mp_raise_ValueError(MP_ERROR_TEXT("udfa_native: shift must be 0..31"));
    }
    const int32_t *d = get(args[0], rows * n_cls, I32, NULL);
    const int16_t *W = get(args[1], n_in * n_cls, I16, NULL);
    int32_t *g = get(args[2], rows * n_in, I32, NULL);
    for (int r = 0; r < rows; r++) {
        const int32_t *dr = d + r * n_cls;
        for (int i = 0; i < n_in; i++) {
            const int16_t *w = W + i * n_cls;
            int32_t sum = 0;
            for (int j = 0; j < n_cls; j++) {
                sum += dr[j] * w[j];
            }
            g[r * n_in + i] = sum >> shift;
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(back_obj, 7, 7, back);

static inline int32_t clamp_d(int32_t v, int32_t dmax) {
    return v > dmax ? dmax : v < -dmax ? -dmax : v;
}

// unpool_delta(g, idx or None, s, d, rows, H, W, C, p, dmax, slope_shift): d at each conv
// output = (g * slope) >> slope_shift at the max of its pooling window (everywhere when
// p = 1), 0 elsewhere; clamped to +-dmax
static mp_obj_t unpool_delta(size_t n_args, const mp_obj_t *args) {
    int rows = mp_obj_get_int(args[4]), H = mp_obj_get_int(args[5]);
    int W = mp_obj_get_int(args[6]), C = mp_obj_get_int(args[7]), p = mp_obj_get_int(args[8]);
    int32_t dmax = mp_obj_get_int(args[9]);
    int sh = mp_obj_get_int(args[10]);
    if (p < 1) {
        mp_raise_ValueError(MP_ERROR_TEXT("udfa_native: pool must be >= 1"));
    }
    int n = rows * H * W * C, Ho = udiv(H, p), Wo = udiv(W, p);
    const uint8_t *s = get(args[2], n, U8, NULL);
    int32_t *d = get(args[3], n, I32, NULL);
    if (p == 1) {
        const int32_t *g = get(args[0], n, I32, NULL);
        for (int i = 0; i < n; i++) {
            d[i] = clamp_d((g[i] * s[i]) >> sh, dmax);
        }
        return mp_const_none;
    }
    const int32_t *g = get(args[0], rows * Ho * Wo * C, I32, NULL);
    const uint8_t *idx = get(args[1], rows * Ho * Wo * C, U8, NULL);
    for (int i = 0; i < n; i++) {
        d[i] = 0;
    }
    for (int b = 0; b < rows; b++) {
        for (int oy = 0; oy < Ho; oy++) {
            for (int ox = 0; ox < Wo; ox++) {
                int o = ((b * Ho + oy) * Wo + ox) * C;
                int base = (b * H + oy * p) * W + ox * p;
                for (int c = 0; c < C; c++) {
                    int w = idx[o + c], dy = udiv(w, p);
                    int q = (base + dy * W + w - dy * p) * C + c;
                    d[q] = clamp_d((g[o + c] * s[q]) >> sh, dmax);
                }
            }
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(unpool_delta_obj, 11, 11, unpool_delta);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_forward, MP_OBJ_FROM_PTR(&forward_obj));
    mp_store_global(MP_QSTR_output_delta, MP_OBJ_FROM_PTR(&output_delta_obj));
    mp_store_global(MP_QSTR_hidden_delta, MP_OBJ_FROM_PTR(&hidden_delta_obj));
    mp_store_global(MP_QSTR_update, MP_OBJ_FROM_PTR(&update_obj));
    mp_store_global(MP_QSTR_argmax, MP_OBJ_FROM_PTR(&argmax_obj));
    mp_store_global(MP_QSTR_im2col, MP_OBJ_FROM_PTR(&im2col_obj));
    mp_store_global(MP_QSTR_maxpool, MP_OBJ_FROM_PTR(&maxpool_obj));
    mp_store_global(MP_QSTR_gridsum, MP_OBJ_FROM_PTR(&gridsum_obj));
    mp_store_global(MP_QSTR_gridspread, MP_OBJ_FROM_PTR(&gridspread_obj));
    mp_store_global(MP_QSTR_back, MP_OBJ_FROM_PTR(&back_obj));
    mp_store_global(MP_QSTR_unpool_delta, MP_OBJ_FROM_PTR(&unpool_delta_obj));
    MP_DYNRUNTIME_INIT_EXIT
}
