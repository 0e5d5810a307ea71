#!/usr/bin/env python3
"""Build ONNX test models with onnx.helper for tests/cli_import.sh.

usage: make_models.py OUTDIR

For each good model NAME: OUTDIR/NAME.onnx, OUTDIR/NAME.x.npy (float32 input
[N, C, H, W] or [N, F]) and OUTDIR/NAME.y.npy, the expected output computed
here in float64 numpy straight from the ONNX operator definitions (onnx 1.12
has no onnx.reference evaluator).  For each bad model: OUTDIR/bad_NAME.onnx
and OUTDIR/bad_NAME.want, the text the error message must contain.
Exit status 77 when onnx or numpy cannot be imported (the caller skips)."""
import os
import sys

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    print("skip: %s" % e)
    sys.exit(77)

OUT = sys.argv[1] if len(sys.argv) == 2 else sys.exit(__doc__)
rng = np.random.default_rng(12345)


def rnd(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ---------------------------------------------------------------- numpy reference

def pad_hw(x, p, value=0.0):
    t, l, b, r = p
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def conv(x, w, b=None, stride=(1, 1), pads=(0, 0, 0, 0), dil=(1, 1), group=1):
    x = pad_hw(x.astype(np.float64), pads)
    N, C, H, W = x.shape
    M, cg, kh, kw = w.shape
    oh = (H - ((kh - 1) * dil[0] + 1)) // stride[0] + 1
    ow = (W - ((kw - 1) * dil[1] + 1)) // stride[1] + 1
    y = np.zeros((N, M, oh, ow))
    mg = M // group
    for m in range(M):
        g = m // mg
        for i in range(kh):
            for j in range(kw):
                patch = x[:, g * cg:(g + 1) * cg,
                          i * dil[0]:i * dil[0] + stride[0] * (oh - 1) + 1:stride[0],
                          j * dil[1]:j * dil[1] + stride[1] * (ow - 1) + 1:stride[1]]
                y[:, m] += np.einsum('nchw,c->nhw', patch, w[m, :, i, j].astype(np.float64))
        if b is not None:
            y[:, m] += b[m]
    return y


def same_pads(in_hw, k, s, dil=(1, 1), upper=True):
    p = [0, 0, 0, 0]
    for a in range(2):
        ke = (k[a] - 1) * dil[a] + 1
        o = -(-in_hw[a] // s[a])
        total = max((o - 1) * s[a] + ke - in_hw[a], 0)
        small, big = total // 2, total - total // 2
        p[a], p[a + 2] = (small, big) if upper else (big, small)
    return p


def pool(x, k, s, pads, mode, ceil=False, count_include_pad=False):
    N, C, H, W = x.shape
    x = x.astype(np.float64)
    t, l, b, r = pads
    out = []
    for a, (n, p0, p1) in enumerate(((H, t, b), (W, l, r))):
        span = n + p0 + p1 - k[a]
        o = (-(-span // s[a]) if ceil else span // s[a]) + 1
        if ceil and (o - 1) * s[a] >= n + p0:
            o -= 1
        out.append(o)
    y = np.zeros((N, C, out[0], out[1]))
    for i in range(out[0]):
        for j in range(out[1]):
            h0, w0 = i * s[0] - t, j * s[1] - l
            h1, w1 = h0 + k[0], w0 + k[1]
            hs, ws = max(h0, 0), max(w0, 0)
            he, we = min(h1, H), min(w1, W)
            win = x[:, :, hs:he, ws:we]
            if mode == 'max':
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:
                if count_include_pad:  # the window within the padded input
                    cnt = (min(h1, H + b) - h0) * (min(w1, W + r) - w0)
                else:
                    cnt = (he - hs) * (we - ws)
                y[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
    return y


def bn(x, g, b, m, v, eps):
    sh = (1, -1) + (1,) * (x.ndim - 2)
    return (x - m.reshape(sh)) / np.sqrt(v.reshape(sh).astype(np.float64) + eps) * g.reshape(sh) + b.reshape(sh)


def softmax(x, axis=1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def lrn(x, size, alpha, beta, bias):
    C = x.shape[1]
    sq = x.astype(np.float64) ** 2
    y = np.zeros_like(sq)
    for c in range(C):
        lo, hi = max(0, c - (size - 1) // 2), min(C - 1, c + -(-(size - 1) // 2))
        y[:, c] = x[:, c] / (bias + alpha / size * sq[:, lo:hi + 1].sum(axis=1)) ** beta
    return y


# ---------------------------------------------------------------- writing

def init(name, arr, dtype=None, raw=True):
    t = numpy_helper.from_array(arr.astype(dtype) if dtype else arr, name)
    if not raw:  # typed fields instead of raw_data
        t = helper.make_tensor(name, t.data_type, arr.shape,
                               arr.astype(dtype or arr.dtype).flatten().tolist())
    return t


def model(name, nodes, inits, x, y, opset=13, out_name='y', value_info=()):
    xi = helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N'] + list(x.shape[1:]))
    yo = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, name, [xi], [yo], initializer=inits, value_info=list(value_info))
    m = helper.make_model(g, producer_name='make_models.py',
                          opset_imports=[helper.make_opsetid('', opset)])
    m.ir_version = 7
    onnx.save(m, os.path.join(OUT, name + '.onnx'))
    if y is not None:
        np.save(os.path.join(OUT, name + '.x.npy'), x.astype(np.float32))
        np.save(os.path.join(OUT, name + '.y.npy'), np.asarray(y, dtype=np.float64))
    return m


def bad(name, want, nodes, inits, xshape=(1, 3, 8, 8), opset=13, outputs=('y',), value_info=(),
        xtype=TensorProto.FLOAT):
    xi = helper.make_tensor_value_info('x', xtype, list(xshape))
    yo = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
    g = helper.make_graph(nodes, name, [xi], yo, initializer=inits, value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)])
    m.ir_version = 7
    onnx.save(m, os.path.join(OUT, 'bad_' + name + '.onnx'))
    with open(os.path.join(OUT, 'bad_' + name + '.want'), 'w') as f:
        f.write(want)
    return m


N = helper.make_node

# ---- net: conv/bn/relu/maxpool/conv+bias/relu/avgpool/gap/flatten/gemm/softmax
x = rnd(2, 3, 12, 12)
w1, w2 = rnd(8, 3, 3, 3, scale=0.4), rnd(16, 8, 3, 3, scale=0.2)
b2 = rnd(16, scale=0.1)
g, be, mu = rnd(8) * 0.2 + 1, rnd(8, scale=0.1), rnd(8, scale=0.1)
var = (np.abs(rnd(8)) + 0.5).astype(np.float32)
fw, fb = rnd(10, 16, scale=0.3), rnd(10, scale=0.1)
h = conv(x, w1, pads=(1, 1, 1, 1))
h = np.maximum(bn(h, g, be, mu, var, 1e-3), 0)
h = pool(h, (2, 2), (2, 2), (0, 0, 0, 0), 'max')
h = np.maximum(conv(h, w2, b2, stride=(2, 2), pads=(0, 0, 1, 1)), 0)
h = pool(h, (3, 3), (1, 1), (1, 1, 1, 1), 'avg', count_include_pad=False)
h = h.mean(axis=(2, 3))
y = softmax(h @ fw.T.astype(np.float64) + fb)
model('net', [
    N('Conv', ['x', 'w1'], ['c1'], name='conv1', kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    N('BatchNormalization', ['c1', 'g', 'be', 'mu', 'var'], ['b1'], name='bn1', epsilon=1e-3),
    N('Relu', ['b1'], ['r1'], name='relu1'),
    N('MaxPool', ['r1'], ['p1'], name='pool1', kernel_shape=[2, 2], strides=[2, 2]),
    N('Conv', ['p1', 'w2', 'b2'], ['c2'], name='conv2', strides=[2, 2], pads=[0, 0, 1, 1]),
    N('Relu', ['c2'], ['r2'], name='relu2'),
    N('AveragePool', ['r2'], ['a2'], name='avg', kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    N('GlobalAveragePool', ['a2'], ['gap'], name='gap'),
    N('Flatten', ['gap'], ['fl'], name='flat'),
    N('Gemm', ['fl', 'fw', 'fb'], ['fc'], name='fc', transB=1),
    N('Softmax', ['fc'], ['y'], name='prob'),
], [init('w1', w1), init('w2', w2), init('b2', b2), init('g', g), init('be', be),
    init('mu', mu), init('var', var), init('fw', fw), init('fb', fb)], x, y,
    value_info=[helper.make_tensor_value_info('c2', TensorProto.FLOAT, ['N', 16, 3, 3])])

# ---- conv variants: groups + dilation + SAME_UPPER stride 2, SAME_LOWER, VALID
x = rnd(2, 4, 11, 10)
wa, ba = rnd(6, 2, 3, 3, scale=0.3), rnd(6, scale=0.1)
wb = rnd(5, 6, 2, 2, scale=0.3)
wc = rnd(3, 5, 2, 3, scale=0.3)
h = conv(x, wa, ba, stride=(2, 2), dil=(2, 1), group=2,
         pads=same_pads((11, 10), (3, 3), (2, 2), (2, 1), upper=True))
h = conv(h, wb, pads=same_pads(h.shape[2:], (2, 2), (1, 1), upper=False))
y = conv(h, wc)
model('conv_variants', [
    N('Conv', ['x', 'wa', 'ba'], ['ca'], name='grouped', group=2, dilations=[2, 1],
      strides=[2, 2], auto_pad='SAME_UPPER'),
    N('Conv', ['ca', 'wb'], ['cb'], name='lower', auto_pad='SAME_LOWER'),
    N('Conv', ['cb', 'wc'], ['y'], name='valid', auto_pad='VALID'),
], [init('wa', wa), init('ba', ba), init('wb', wb), init('wc', wc)], x, y)

# ---- pools: max ceil_mode, avg count_include_pad=1, SAME_UPPER max
x = rnd(2, 3, 9, 9)
h = pool(x, (3, 3), (2, 2), (0, 0, 0, 0), 'max', ceil=True)            # 9 -> 4 (ceil)
h = pool(h, (2, 2), (1, 1), (1, 1, 1, 1), 'avg', count_include_pad=True)  # 4 -> 5
y = pool(h, (3, 3), (2, 2), same_pads((5, 5), (3, 3), (2, 2)), 'max')
model('pools', [
    N('MaxPool', ['x'], ['m1'], name='max_ceil', kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    N('AveragePool', ['m1'], ['a1'], name='avg_incl', kernel_shape=[2, 2], pads=[1, 1, 1, 1],
      count_include_pad=1),
    N('MaxPool', ['a1'], ['y'], name='max_same', kernel_shape=[3, 3], strides=[2, 2],
      auto_pad='SAME_UPPER'),
], [], x, y)

# ---- dense: Flatten -> MatMul + Add (bias) -> Relu -> Gemm(alpha, beta, transB=0) -> Clip(0, 6)
x = rnd(3, 2, 3, 3)
mw, mb = rnd(18, 7, scale=0.4), rnd(7, scale=0.2)
gw, gb = rnd(7, 5, scale=0.5), rnd(1, 5, scale=0.5)
h = x.reshape(3, -1).astype(np.float64) @ mw + mb
h = np.maximum(h, 0)
h = 0.5 * (h @ gw.astype(np.float64)) + 2.0 * gb.astype(np.float64)
y = np.clip(h, 0, 6)
model('dense', [
    N('Flatten', ['x'], ['f'], name='flatten'),
    N('MatMul', ['f', 'mw'], ['mm'], name='matmul'),
    N('Add', ['mm', 'mb'], ['ma'], name='bias_add'),
    N('Relu', ['ma'], ['r'], name='relu'),
    N('Gemm', ['r', 'gw', 'gb'], ['gm'], name='gemm', alpha=0.5, beta=2.0),
    N('Constant', [], ['lo'], name='lo', value=numpy_helper.from_array(np.array(0, np.float32))),
    N('Constant', [], ['hi'], name='hi', value=numpy_helper.from_array(np.array(6, np.float32))),
    N('Clip', ['gm', 'lo', 'hi'], ['y'], name='relu6'),
], [init('mw', mw), init('mb', mb), init('gw', gw), init('gb', gb)], x, y)

# ---- concat / slice / pad / lrn / identity / dropout / clip with one bound / conv bias via Add
x = rnd(2, 4, 8, 8)
wk, bk = rnd(3, 4, 3, 3, scale=0.3), rnd(3, scale=0.2)
a = x[:, :, 1:7, 1:7]
a = np.pad(a, ((0, 0), (1, 2), (0, 0), (0, 0)))
bconv = conv(x, wk) + bk.reshape(1, 3, 1, 1)
h = np.concatenate([a, bconv], axis=1)          # [2, 10, 6, 6]
h = lrn(h, 5, 2e-4, 0.75, 1.5)
h = h[:, 1:9:3, ::2, 1:]                          # c [1, 9, 3], h step 2, w from 1
y = np.maximum(h, -0.25)
model('concat_slice_pad', [
    N('Constant', [], ['st'], value=numpy_helper.from_array(np.array([1, 1], np.int64))),
    N('Constant', [], ['en'], value=numpy_helper.from_array(np.array([-1, 7], np.int64))),
    N('Constant', [], ['ax'], value=numpy_helper.from_array(np.array([2, -1], np.int64))),
    N('Slice', ['x', 'st', 'en', 'ax'], ['s'], name='crop'),
    N('Pad', ['s', 'pads'], ['p'], name='chanpad'),
    N('Conv', ['x', 'wk'], ['k0'], name='branch'),
    N('Add', ['k0', 'bk'], ['k'], name='branch_bias'),
    N('Concat', ['p', 'k'], ['cat'], name='cat', axis=1),
    N('LRN', ['cat'], ['l'], name='lrn', size=5, alpha=2e-4, beta=0.75, bias=1.5),
    N('Identity', ['l'], ['i'], name='id'),
    N('Slice', ['i', 'st2', 'en2', 'ax2', 'sp2'], ['s2'], name='strided'),
    N('Dropout', ['s2'], ['d'], name='drop', ratio=0.3),
    N('Constant', [], ['lo'], value=numpy_helper.from_array(np.array(-0.25, np.float32))),
    N('Clip', ['d', 'lo'], ['y'], name='floor'),
], [init('wk', wk), init('bk', bk.reshape(1, 3, 1, 1)),
    init('pads', np.array([0, 1, 0, 0, 0, 2, 0, 0], np.int64)),
    init('st2', np.array([1, 0, 1], np.int64)), init('en2', np.array([9, 100, 2**62], np.int64)),
    init('ax2', np.array([1, 2, 3], np.int64)), init('sp2', np.array([3, 2, 1], np.int64))], x, y)

# ---- opset 9: Clip/Pad attributes, Slice attributes, Reshape-as-flatten, Softmax on [N, F];
#      weights as DOUBLE raw_data, float_data, FLOAT16 and int64_data
x = rnd(2, 2, 6, 6)
wd = rnd(4, 2, 3, 3, scale=0.5)                   # float32 values stored as DOUBLE
bd = rnd(4, scale=0.1)
wh = rnd(6, 4 * 3 * 2, scale=0.3).astype(np.float16)
h = np.clip(conv(x, wd, bd), -0.5, 0.5)           # [2, 4, 4, 4]
h = np.pad(h, ((0, 0), (0, 0), (0, 1), (2, 0)))   # [2, 4, 5, 6]
h = h[:, :, 2:5, 1:3]                             # [2, 4, 3, 2]
y = softmax(h.reshape(2, -1) @ wh.astype(np.float64).T)
model('opset9', [
    N('Conv', ['x', 'wd', 'bd'], ['c'], name='conv'),
    N('Clip', ['c'], ['cl'], name='clip', min=-0.5, max=0.5),
    N('Pad', ['cl'], ['p'], name='pad', pads=[0, 0, 0, 2, 0, 0, 1, 0]),
    N('Slice', ['p'], ['s'], name='slice', starts=[2, 1], ends=[5, 3], axes=[2, 3]),
    N('Reshape', ['s', 'shape'], ['f'], name='flatten'),
    N('Gemm', ['f', 'wh'], ['g'], name='fc', transB=1),
    N('Softmax', ['g'], ['y'], name='softmax'),
], [init('wd', wd, np.float64), init('bd', bd, raw=False), init('wh', wh),
    init('shape', np.array([0, -1], np.int64), raw=False)], x, y, opset=9)

# ---------------------------------------------------------------- bad models
W = init('w', rnd(4, 3, 3, 3))
bad('unsupported', 'node 1 "Resize_3": unsupported operator Resize',
    [N('Conv', ['x', 'w'], ['c'], name='conv'), N('Resize', ['c'], ['y'], name='Resize_3')], [W])
bad('missing_init', 'node 0 "conv": input 1 "w2" is not an initializer, a graph input or the '
    'output of an earlier node', [N('Conv', ['x', 'w2'], ['y'], name='conv')], [W])
bad('unknown_input', 'node 1 "relu": input 0 "nothere" is not an initializer',
    [N('Conv', ['x', 'w'], ['c'], name='conv'), N('Relu', ['nothere'], ['y'], name='relu')], [W])
bad('dtype', 'initializer "w": data type INT8 (3) is not supported',
    [N('Conv', ['x', 'w'], ['y'], name='conv')], [init('w', np.ones((4, 3, 3, 3), np.int8))])
t = init('w', rnd(4, 3, 3, 3))
t.raw_data = t.raw_data[:-4]
bad('rawsize', 'initializer "w": raw_data has 428 bytes, expected 432 (108 FLOAT values)',
    [N('Conv', ['x', 'w'], ['y'], name='conv')], [t])
bad('wshape', 'node 0 "conv": weight W has shape [4, 5, 3, 3], expected [M, 3, kh, kw]',
    [N('Conv', ['x', 'w'], ['y'], name='conv')], [init('w', rnd(4, 5, 3, 3))])
bad('addshape', 'node 2 "sum": cannot add [N, 4, 6, 6] and [N, 3, 8, 8]',
    [N('Conv', ['x', 'w'], ['c'], name='conv'), N('Relu', ['x'], ['r'], name='relu'),
     N('Add', ['c', 'r'], ['y'], name='sum')], [W])
bad('poolpad', 'node 0 "pool": pads [2, 2, 2, 2] exceed half the kernel [3, 3]',
    [N('MaxPool', ['x'], ['y'], name='pool', kernel_shape=[3, 3], pads=[2, 2, 2, 2])], [])
bad('lrn_even', 'node 0 "lrn": even size 4',
    [N('LRN', ['x'], ['y'], name='lrn', size=4)], [])
bad('softmax_axis', 'node 0 "sm": softmax along axis 2 of [N, 3, 8, 8]',
    [N('Softmax', ['x'], ['y'], name='sm', axis=2)], [])
bad('two_outputs', 'the graph has 2 outputs; numrep networks have one',
    [N('Relu', ['x'], ['y'], name='r1'), N('Relu', ['y'], ['z'], name='r2')], [],
    outputs=('y', 'z'))
bad('declared', 'node 0 "conv": output "y": the file declares shape [1, 4, 7, 7], the imported '
    'layers give [N, 4, 6, 6]', [N('Conv', ['x', 'w'], ['y'], name='conv')], [W],
    value_info=[helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 4, 7, 7])])
bad('reshape', 'node 1 "rs": Reshape of [N, 4, 6, 6] to [4, -1]: only a flatten to [N, 144]',
    [N('Conv', ['x', 'w'], ['c'], name='conv'), N('Reshape', ['c', 's'], ['y'], name='rs')],
    [W, init('s', np.array([4, -1], np.int64))])
bad('bias_shared', 'node 2 "b": adding a constant is supported only as the bias',
    [N('Conv', ['x', 'w'], ['c'], name='conv'), N('Relu', ['c'], ['r'], name='r'),
     N('Add', ['c', 'k'], ['y'], name='b')], [W, init('k', rnd(1, 4, 1, 1))])
ext = init('w', rnd(4, 3, 3, 3))
ext.ClearField('raw_data')
ext.data_location = TensorProto.EXTERNAL
e = ext.external_data.add()
e.key, e.value = 'location', 'weights.bin'
bad('external', 'initializer "w": external tensor data is not supported',
    [N('Conv', ['x', 'w'], ['y'], name='conv')], [ext])
bad('pad_reflect', 'node 0 "p": mode "reflect"; only constant (zero) padding',
    [N('Pad', ['x', 'pp'], ['y'], name='p', mode='reflect')],
    [init('pp', np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))])
bad('attr', 'node 0 "conv": attribute "bogus" is not supported',
    [N('Conv', ['x', 'w'], ['y'], name='conv', bogus=3)], [W])
bad('training', 'node 0 "bn": attribute training_mode = 1, expected 0 .. 0',
    [N('BatchNormalization', ['x', 'v', 'v', 'v', 'v'], ['y'], name='bn', training_mode=1)],
    [init('v', np.ones(3, np.float32))], opset=15)
# an INTS attribute with no entries (protobuf-c gives a NULL array: no
# memcpy from it)
empty = N('Conv', ['x', 'w'], ['y'], name='conv')
empty.attribute.append(onnx.AttributeProto(name='kernel_shape', type=onnx.AttributeProto.INTS))
bad('empty_ints', 'node 0 "conv": kernel_shape disagrees with weight W [4, 3, 3, 3]', [empty], [W])
# an integer input is token ids [N, T] (onnx_seq_ids.c); an image of integers
# and any other element type are refused at the input
bad('int_input', 'graph input "x": an integer input must be token ids [N, T], got rank 4', [], [],
    xtype=TensorProto.INT64)
bad('double_input', 'graph input "x": element type DOUBLE, expected FLOAT', [], [], xshape=(1, 3),
    xtype=TensorProto.DOUBLE)
