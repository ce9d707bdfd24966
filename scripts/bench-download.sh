#!/usr/bin/env bash
# Speed and memory of `isobuild download` over loopback, against a plain
# HTTP GET of the same bytes into a file (curl -o FILE, then sync FILE, as
# isobuild fsyncs too), from the same local server in the same run.
#
# The image is BENCH_SIZE_MIB MiB of random data (1024 by default), signed
# with a key made here (gpg, in a temporary home) and listed with its
# sha256 in a stream metadata file, so that isobuild does all of its work:
# the signature fetched first, the OpenPGP check and the sha256 while the
# bytes stream, the temporary file, fsync and rename. The server is
# scripts/fileserver on 127.0.0.1, which sends files with sendfile, so
# that it takes little of the CPU the two clients compete for.
#
# Reported:
#   * the median over BENCH_ROUNDS (5) interleaved rounds of the ratio
#     isobuild time / plain GET time (target: at most BENCH_MAX_RATIO,
#     1.15 by default; the script exits 1 above it);
#   * isobuild's peak RSS, with the peak RSS of a 16 MiB download for
#     comparison: it must not grow with the image size.
#
# Usage: scripts/bench-download.sh            (1 GiB)
#        BENCH_SIZE_MIB=64 scripts/bench-download.sh
# Needs: go, gpg, curl, python3, GNU time (/usr/bin/time).
set -euo pipefail

size_mib=${BENCH_SIZE_MIB:-1024}
rounds=${BENCH_ROUNDS:-5}
max_ratio=${BENCH_MAX_RATIO:-1.15}
root=$(cd "$(dirname "$0")/.." && pwd)

for tool in go gpg curl python3 /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench-download: $tool is missing" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-download.XXXXXX")
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
	gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "bench-download: building isobuild" >&2
(cd "$root" && go build -o "$work/isobuild" ./cmd/isobuild)

mkdir -p "$work/srv/streams" "$work/srv/img" "$work/out" "$work/plain" "$work/gnupg"
chmod 700 "$work/gnupg"
export GNUPGHOME=$work/gnupg
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
	--quick-gen-key 'isobuild bench <bench@example.invalid>' ed25519 sign never 2>/dev/null
gpg --batch --quiet --armor --export >"$work/key.asc"

# make_image NAME MIB: a random image with its signature.
make_image() {
	head -c "$(($2 << 20))" /dev/urandom >"$work/srv/img/$1"
	gpg --batch --quiet --detach-sign -o "$work/srv/img/$1.sig" "$work/srv/img/$1"
}
echo "bench-download: making a ${size_mib} MiB image" >&2
make_image big.iso "$size_mib"
make_image small.iso 16

(cd "$root" && go build -o "$work/fileserver" ./scripts/fileserver)
"$work/fileserver" "$work/srv" >"$work/addr" 2>"$work/fileserver.err" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/addr" ] && break; sleep 0.1; done
base=http://$(cat "$work/addr")
curl -sf -o /dev/null "$base/" || { cat "$work/fileserver.err" >&2; echo "bench-download: the file server did not start" >&2; exit 1; }

# stream STREAM FILE: stream metadata for one ISO.
stream() {
	local sum
	sum=$(sha256sum "$work/srv/img/$2" | cut -d' ' -f1)
	cat >"$work/srv/streams/$1.json" <<EOF
{"stream":"$1","metadata":{"last-modified":"2026-01-01T00:00:00Z"},
 "architectures":{"x86_64":{"artifacts":{"metal":{"release":"1","formats":{
  "iso":{"disk":{"location":"$base/img/$2","signature":"$base/img/$2.sig","sha256":"$sum"}}}}}}}}
EOF
}
stream big big.iso
stream small small.iso

# isobuild_run STREAM: prints "SECONDS PEAK_KIB".
isobuild_run() {
	rm -f "$work/out/"*
	/usr/bin/time -f '%e %M' -o "$work/time" "$work/isobuild" download \
		--stream-base-url "$base/streams/" --trust-key "$work/key.asc" \
		-s "$1" -a x86_64 -f iso -C "$work/out" >/dev/null 2>"$work/isobuild.err" ||
		{ cat "$work/isobuild.err" >&2; exit 1; }
	cat "$work/time"
}

# plain_run: prints "SECONDS".
plain_run() {
	rm -f "$work/plain/big.iso"
	/usr/bin/time -f '%e' -o "$work/time" sh -c \
		'curl -sf -o "$1" "$2" && sync "$1"' sh "$work/plain/big.iso" "$base/img/big.iso"
	cat "$work/time"
}

# Warm the page cache of the served files.
cat "$work/srv/img/big.iso" >/dev/null

ratios=()
peak=0
for r in $(seq "$rounds"); do
	if ((r % 2)); then
		read -r it rss < <(isobuild_run big)
		pt=$(plain_run)
	else
		pt=$(plain_run)
		read -r it rss < <(isobuild_run big)
	fi
	ratio=$(python3 -c "print(f'{max($it, 0.01) / max($pt, 0.01):.3f}')")
	ratios+=("$ratio")
	((rss > peak)) && peak=$rss
	printf 'round %d: isobuild %ss, plain GET %ss, ratio %s, peak RSS %d KiB\n' "$r" "$it" "$pt" "$ratio" "$rss"
done
cmp "$work/out/big.iso" "$work/srv/img/big.iso"

read -r _ small_rss < <(isobuild_run small)
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'download %d MiB: median ratio isobuild/plain GET %s (target <= %s); peak RSS %d KiB (16 MiB image: %d KiB)\n' \
	"$size_mib" "$median" "$max_ratio" "$peak" "$small_rss"
if python3 -c "import sys; sys.exit(0 if $median <= $max_ratio else 1)"; then
	echo "bench-download: OK"
else
	echo "bench-download: FAIL: ratio $median above $max_ratio" >&2
	exit 1
fi
