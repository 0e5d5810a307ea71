#!/usr/bin/env bash
# setup.sh -- install numrep's Debian dependencies, build, and run.
#
#   ./setup.sh            install dependencies, build, run the main job
#   ./setup.sh test       install dependencies, build, run every test
#                         (also a second build under ASan+UBSan and the
#                         libFuzzer targets for a few seconds each, built
#                         with clang, when NUMREP_SANITIZE_TOO=1, as CI does)
#   ./setup.sh build      install dependencies and build only
#
# Build trees: build/ (release), build-asan/ (sanitizers), build-fuzz/
# (clang + libFuzzer; bench/fuzz.sh fuzzes for longer).
set -euo pipefail
cd "$(dirname "$0")"

DEPS=(cmake make gcc pkg-config python3 llvm-16-dev libyaml-dev check libsubunit-dev
      libmpfr-dev libgmp-dev dataset-fashion-mnist zlib1g-dev libpng-dev libjpeg62-turbo-dev
      protobuf-c-compiler libprotobuf-c-dev python3-onnx python3-torch
      libsqlite3-dev chromium libopenmpi-dev openmpi-bin
      python3-numpy python3-pytest
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
      gcc-arm-none-eabi qemu-system-arm clang libclang-rt-14-dev)

need_install() {
    local missing=()
    for p in "${DEPS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]}" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >&2
    fi
}

build() { # build DIR [cmake args...]
    local dir=$1; shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)" >&2
}

run_tests() { # run_tests DIR
    ctest --test-dir "$1" --output-on-failure -j"$(nproc)"
}

# `import numrep` from Debian's python3 anywhere: a .pth naming python/ (the
# package finds build/libnumrep.so beside the source tree; python/README.md).
python_path() {
    local site
    site=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null) || return 0
    mkdir -p "$site" 2>/dev/null && echo "$PWD/python" > "$site/numrep-source.pth" 2>/dev/null ||
        echo "setup: cannot write $site/numrep-source.pth; use PYTHONPATH=$PWD/python" >&2
}

cmd=${1:-main}
need_install
python_path
case "$cmd" in
    build)
        build build ;;
    test)
        build build
        run_tests build
        if [ "${NUMREP_SANITIZE_TOO:-0}" = 1 ]; then
            build build-asan -DNUMREP_SANITIZE=ON -DNUMREP_NATIVE=ON
            NUMREP_QUICK=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_tests build-asan
            CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DNUMREP_FUZZ=ON >/dev/null
            cmake --build build-fuzz -j"$(nproc)" --target fuzz >&2
            ctest --test-dir build-fuzz --output-on-failure -R '^fuzz_'
        fi ;;
    main)
        build build
        # The built-in default: ResNet-20 on the 1000 CIFAR-10 test images
        # shipped in specs/resnet20/cifar10-1000 (works without ../shared).
        # The fast precision search (the seed paper's method) finds the
        # fastest format within 1 % of fp32's accuracy; every evaluation goes
        # to the results store, so a second run answers from it at once.
        jobs=$(nproc)
        db=build/numrep-results.db
        echo "== precision search: ResNet-20, 1000 CIFAR-10 test images, budget 1 % (results: $db)" >&2
        ./build/numrep search specs/resnet20/resnet20.yaml --data specs/resnet20/cifar10-1000 \
            --max-loss 1% --jobs "$jobs" --db "$db"
        ./build/numrep report "$db" -o build/report.html
        echo "== report: build/report.html" >&2 ;;
    *)
        echo "usage: ./setup.sh [test|build]" >&2; exit 2 ;;
esac
