#!/usr/bin/env bash
# Runs on the PC: builds the native kernel's C module (device/natmod/udfa_native) into one
# .mpy per architecture, device/natmod/dist/<arch>/udfa_native.mpy, which `udfa deploy`
# sends to a board of that architecture (host/udfa_host/natives.py).
#   tools/build_native.sh [ARCH ...]     default: x64 armv6m armv7emsp
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
for ARCH in $ARCHES; do
  BUILD=/tmp/udfa-natmod-build/$ARCH
  make -s -C "$SRC" ARCH="$ARCH" MPY_DIR="$MPY_DIR" PYTHON="$PYTHON" BUILD="$BUILD" \
    MOD=udfa_native clean all
  mkdir -p "$ROOT/device/natmod/dist/$ARCH"
  mv "$SRC/udfa_native.mpy" "$ROOT/device/natmod/dist/$ARCH/udfa_native.mpy"
  echo "device/natmod/dist/$ARCH/udfa_native.mpy: $(wc -c < "$ROOT/device/natmod/dist/$ARCH/udfa_native.mpy") bytes"
done
