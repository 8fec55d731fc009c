#!/usr/bin/env bash
# Runs on the PC: builds the native kernel's C module (device/natmod/udfa_native) into one
# .mpy per architecture, device/natmod/dist/<arch>/udfa_native.mpy, which `udfa deploy`
# sends to a board of that architecture (host/udfa_host/natives.py).
#   tools/build_native.sh [ARCH ...]     default: x64 armv6m armv7emsp
# NATIVE_OUT=DIR puts the files in DIR/<arch>/ instead (tests/test_native.py rebuilds them there
# and checks that the shipped ones are the source's).
# Needs MicroPython's source at the firmware's commit (MPY_DIR, else the tarball in
# ../shared/src is unpacked to /tmp), pyelftools for its linker, gcc for x64 and
# gcc-arm-none-eabi for the ARM ones. xtensawin (ESP32) needs xtensa-esp32-elf-gcc.
set -e
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ARCHES=${*:-x64 armv6m armv7emsp}
if [ -z "$MPY_DIR" ]; then
  TARBALL=$(ls "$ROOT"/../shared/src/micropython-*.tar.gz | head -1)
  MPY_DIR=/tmp/udfa-natmod-src/micropython
  if [ ! -f "$MPY_DIR/py/dynruntime.mk" ]; then
    mkdir -p /tmp/udfa-natmod-src
    tar xzf "$TARBALL" -C /tmp/udfa-natmod-src
  fi
fi
PYTHON=${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python3)}
"$PYTHON" -c "import elftools" 2>/dev/null || {
  echo "build_native: the natmod linker needs pyelftools: $PYTHON -m pip install pyelftools" >&2
  exit 1
}
SRC=$ROOT/device/natmod/udfa_native
OUT=${NATIVE_OUT:-$ROOT/device/natmod/dist}
for ARCH in $ARCHES; do
  BUILD=$(mktemp -d /tmp/udfa-natmod-build.XXXXXX)
  cp "$SRC"/Makefile "$SRC"/*.c "$BUILD"/  # built in a scratch copy: the source tree stays clean
  make -s -C "$BUILD" ARCH="$ARCH" MPY_DIR="$MPY_DIR" PYTHON="$PYTHON" BUILD="$BUILD/obj"
  mkdir -p "$OUT/$ARCH"
  mv "$BUILD/udfa_native.mpy" "$OUT/$ARCH/udfa_native.mpy"
  rm -rf "$BUILD"
  echo "$OUT/$ARCH/udfa_native.mpy: $(wc -c < "$OUT/$ARCH/udfa_native.mpy") bytes"
done
