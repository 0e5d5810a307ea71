#!/usr/bin/python3
"""Regenerate the dataset test fixtures (run with Debian's python3 + python3-pil 9.4).

  idx/      tiny IDX files, gzip and plain: 5 images of 3x4, labels i % 10
  cifar/    tiny CIFAR-10 binary batch: 3 records
  imgset/   tiny JPEG/PNG images, labels.txt, and PIL's decode of each (*.rgb)
  pil_resize.txt       crc32 of PIL's shorter-side bilinear resize + centre crop
                       of a synthetic image, for several sizes
  pil_imagenet_crc.txt crc32 of PIL's 256/224 crop of each ImageNet sample
                       (only when ../shared/data is present)
  pil_resize_exact.txt crc32 of PIL's bilinear resize to an exact size (aspect
                       ignored, Caffe) + centre crop of a synthetic image
  pil_caffe_crc.txt    crc32 of the Caffe crop (256x256, centre 224 and 227)
                       of the first 100 ImageNet samples (needs ../shared/data)
  Only the last two: make_fixtures.py caffe
Pixel formulas are repeated in tests/check_dataset.c, which recomputes them.
"""
import gzip, os, struct, sys, zlib
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))

def idx_px(i, y, x):       # same formula as check_dataset.c idx_px()
    return (i * 31 + y * 7 + x * 3) & 255

def cifar_px(i, c, y, x):  # same formula as check_dataset.c cifar_px()
    return (i * 50 + c * 90 + y * 5 + x * 11) & 255

def synth(x, y, c):        # same formula as check_dataset.c synth()
    return ((x * 73 + y * 151 + c * 29) ^ (x * y)) & 255

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)

def make_idx():
    n, h, w = 5, 3, 4
    img = struct.pack('>IIII', 2051, n, h, w) + bytes(
        idx_px(i, y, x) for i in range(n) for y in range(h) for x in range(w))
    lab = struct.pack('>II', 2049, n) + bytes(i % 10 for i in range(n))
    d = os.path.join(HERE, 'idx')
    write(os.path.join(d, 'plain', 't10k-images-idx3-ubyte'), img)
    write(os.path.join(d, 'plain', 't10k-labels-idx1-ubyte'), lab)
    # mtime 0 keeps the .gz files byte-stable across regenerations
    write(os.path.join(d, 'gz', 't10k-images-idx3-ubyte.gz'), gzip.compress(img, mtime=0))
    write(os.path.join(d, 'gz', 't10k-labels-idx1-ubyte.gz'), gzip.compress(lab, mtime=0))

def make_cifar():
    out = b''
    for i in range(3):
        out += bytes([(7 * i + 3) % 10]) + bytes(
            cifar_px(i, c, y, x) for c in range(3) for y in range(32) for x in range(32))
    write(os.path.join(HERE, 'cifar', 'test_batch.bin'), out)

def synth_image(w, h, c):
    mode = 'L' if c == 1 else 'RGB'
    data = bytes(synth(x, y, k) for y in range(h) for x in range(w) for k in range(c))
    return Image.frombytes(mode, (w, h), data)

def short_side(w, h, s):
    m = min(w, h)
    return (s if w == m else round(w * s / m), s if h == m else round(h * s / m))

def resize_crop(im, s, crop):
    w, h = im.size
    if s:
        nw, nh = short_side(w, h, s)
        if (nw, nh) != (w, h):
            im = im.resize((nw, nh), Image.BILINEAR)
    if crop:
        w, h = im.size
        l, t = (w - crop) // 2, (h - crop) // 2
        im = im.crop((l, t, l + crop, t + crop))
    return im

def make_imgset():
    d = os.path.join(HERE, 'imgset')
    os.makedirs(d, exist_ok=True)
    files = []
    im = synth_image(12, 8, 3)
    im.save(os.path.join(d, 'rgb.jpg'), quality=90); files.append(('rgb.jpg', 3))
    synth_image(10, 7, 1).save(os.path.join(d, 'gray.jpg'), quality=90); files.append(('gray.jpg', 1))
    im.convert('CMYK').save(os.path.join(d, 'cmyk.jpg'), quality=90); files.append(('cmyk.jpg', 7))
    synth_image(13, 9, 3).save(os.path.join(d, 'rgb.png')); files.append(('rgb.png', 0))
    rgba = synth_image(9, 6, 3).convert('RGBA'); rgba.putalpha(128)
    rgba.save(os.path.join(d, 'rgba.png')); files.append(('rgba.png', 9))
    synth_image(11, 5, 3).convert('P', palette=Image.ADAPTIVE, colors=16).save(
        os.path.join(d, 'pal.png')); files.append(('pal.png', 2))
    synth_image(6, 4, 1).save(os.path.join(d, 'gray.png')); files.append(('gray.png', 5))
    with open(os.path.join(d, 'labels.txt'), 'w') as f:
        f.write('# file class_index\n')
        for name, lab in files:
            f.write('%s %d\n' % (name, lab))
    for name, _ in files:  # PIL's decode: the reference the C decoder must match
        rgb = Image.open(os.path.join(d, name)).convert('RGB')
        write(os.path.join(d, 'ref', name + '.rgb'), struct.pack('<II', *rgb.size) + rgb.tobytes())

RESIZE_CASES = [  # w, h, c, shorter side, crop
    (37, 23, 3, 16, 0), (23, 37, 3, 64, 0), (500, 375, 3, 256, 224), (333, 500, 3, 256, 224),
    (64, 64, 1, 17, 0), (101, 57, 3, 57, 0), (100, 60, 3, 30, 0), (7, 300, 3, 5, 0),
    (256, 256, 3, 256, 224), (640, 480, 3, 256, 224), (31, 29, 3, 300, 17), (1000, 3, 1, 2, 0),
]

def make_resize():
    with open(os.path.join(HERE, 'pil_resize.txt'), 'w') as f:
        f.write('# w h c short crop crc32-of-PIL-result (%s)\n' % Image.__version__)
        for w, h, c, s, crop in RESIZE_CASES:
            out = resize_crop(synth_image(w, h, c), s, crop).tobytes()
            f.write('%d %d %d %d %d %08x\n' % (w, h, c, s, crop, zlib.crc32(out)))

def shared_data():  # $NUMREP_SHARED_DATA, else ../shared/data of the repository
    return os.environ.get('NUMREP_SHARED_DATA') or os.path.join(
        HERE, '..', '..', '..', '..', 'shared', 'data')

def make_imagenet():
    data = os.path.join(shared_data(), 'imagenet_samples')
    if not os.path.isdir(data):
        print('no ../shared/data: pil_imagenet_crc.txt not regenerated')
        return
    with open(os.path.join(data, 'labels.txt')) as f:
        names = [l.split()[0] for l in f if l.strip() and not l.startswith('#')]
    with open(os.path.join(HERE, 'pil_imagenet_crc.txt'), 'w') as f:
        f.write('# file crc32 of PIL %s convert(RGB), resize shorter side 256 BILINEAR, '
                'centre crop 224, HWC bytes\n' % Image.__version__)
        for n in names:
            im = resize_crop(Image.open(os.path.join(data, 'images', n)).convert('RGB'), 256, 224)
            f.write('%s %08x\n' % (n, zlib.crc32(im.tobytes())))

RESIZE_EXACT_CASES = [  # w, h, c, resize w, resize h, crop
    (37, 23, 3, 16, 16, 0), (23, 37, 3, 64, 20, 0), (500, 375, 3, 256, 256, 224),
    (333, 500, 3, 256, 256, 227), (64, 64, 1, 17, 40, 0), (101, 57, 3, 101, 30, 0),
    (100, 60, 3, 100, 60, 50), (7, 300, 1, 5, 256, 0), (640, 480, 3, 256, 256, 227),
]

def crop_centre(im, crop):
    w, h = im.size
    l, t = (w - crop) // 2, (h - crop) // 2
    return im.crop((l, t, l + crop, t + crop))

def make_resize_exact():
    with open(os.path.join(HERE, 'pil_resize_exact.txt'), 'w') as f:
        f.write('# w h c resize_w resize_h crop crc32-of-PIL-result (%s)\n' % Image.__version__)
        for w, h, c, rw, rh, crop in RESIZE_EXACT_CASES:
            im = synth_image(w, h, c)
            if (rw, rh) != (w, h):
                im = im.resize((rw, rh), Image.BILINEAR)
            if crop:
                im = crop_centre(im, crop)
            f.write('%d %d %d %d %d %d %08x\n' % (w, h, c, rw, rh, crop, zlib.crc32(im.tobytes())))

def make_imagenet_caffe(n=100):
    data = os.path.join(shared_data(), 'imagenet_samples')
    if not os.path.isdir(data):
        print('no ../shared/data: pil_caffe_crc.txt not regenerated')
        return
    with open(os.path.join(data, 'labels.txt')) as f:
        names = [l.split()[0] for l in f if l.strip() and not l.startswith('#')][:n]
    with open(os.path.join(HERE, 'pil_caffe_crc.txt'), 'w') as f:
        f.write('# file crc32-224 crc32-227: PIL %s convert(RGB), resize to 256x256 BILINEAR '
                '(aspect ignored), centre crop, HWC RGB bytes\n' % Image.__version__)
        for nm in names:
            im = Image.open(os.path.join(data, 'images', nm)).convert('RGB')
            im = im.resize((256, 256), Image.BILINEAR)
            f.write('%s %08x %08x\n' % (nm, zlib.crc32(crop_centre(im, 224).tobytes()),
                                         zlib.crc32(crop_centre(im, 227).tobytes())))

if __name__ == '__main__':
    if sys.argv[1:] == ['caffe']:
        make_resize_exact(); make_imagenet_caffe()
    else:
        make_idx(); make_cifar(); make_imgset(); make_resize(); make_imagenet()
        make_resize_exact(); make_imagenet_caffe()
