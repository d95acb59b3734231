#!/usr/bin/env bash
# Builds the packages into dist/ (make packages): the Linux deb and rpm of the
# agent and the collector for amd64 and arm64 (nfpm, packaging/linux), then
# the Windows MSI when scripts/package-windows.sh exists, then dist/SHA256SUMS.
#
# Environment:
#   DIST=DIR                  output folder (default dist)
#   SONEVAKT_VERSION=X.Y.Z    package version instead of the one from git
#   SONEVAKT_PACKAGES=LIST    only these, separated by spaces or commas, each
#                             ARCH/FORMAT (amd64/deb) or PROGRAM/ARCH/FORMAT
#                             (agent/amd64/deb); "linux" = every Linux package.
#                             Default: everything. The Windows step runs only
#                             when the list is unset or names "windows".
#   NFPM="CMD"                nfpm command (default: the pinned version by go run)
#
# Versions: the tag v1.2.3 gives 1.2.3; 4 commits after it 1.2.3+git4.<sha>;
# no tag 0.0.0~git<commit date>.<sha> (~ sorts before any release in dpkg and
# rpm). Valid for both: only digits, letters, '.', '+', '~'; no '-'.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
DIST=${DIST:-dist}
NFPM=${NFPM:-$GO run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2}
mkdir -p "$DIST"
dist=$(cd "$DIST" && pwd)

die() { echo "packages: $*" >&2; exit 1; }

# Package version.
version=${SONEVAKT_VERSION:-}
sha=$(git rev-parse --short=12 HEAD 2>/dev/null || true)
if [ -z "$version" ]; then
  desc=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null || true)
  if [[ $desc =~ ^v([0-9]+(\.[0-9]+)*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
    version=${BASH_REMATCH[1]}
    [ "${BASH_REMATCH[3]}" = 0 ] || version+="+git${BASH_REMATCH[3]}.${BASH_REMATCH[4]}"
  elif [ -n "$sha" ]; then
    version="0.0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S).${sha:0:7}"
  else
    die "no version: not a git checkout; set SONEVAKT_VERSION"
  fi
fi
version=${version#v}
[[ $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]] ||
  die "version \"$version\" is not valid for dpkg and rpm (digits first, then only letters, digits, . + ~)"

# Reproducible timestamps in the packages: the commit's time.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

# wanted PROGRAM ARCH FORMAT: whether SONEVAKT_PACKAGES selects it.
pkgs=${SONEVAKT_PACKAGES:-}
sel=" ${pkgs//,/ } "
wanted() {
  [ -z "${SONEVAKT_PACKAGES:-}" ] && return 0
  [[ $sel == *" linux "* || $sel == *" $2/$3 "* || $sel == *" $1/$2/$3 "* ]]
}

ldflags="-s -w -X github.com/sonevakt/sonevakt/pkg/buildinfo.Version=$version -X github.com/sonevakt/sonevakt/pkg/buildinfo.Commit=$sha"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Fetch (and compile) nfpm once, up front, so that a missing network says so.
$NFPM --version >"$work/nfpm.out" 2>&1 ||
  { cat "$work/nfpm.out" >&2; die "cannot run nfpm ($NFPM): it is fetched by 'go run' from the Go module proxy; check the network or GOPROXY, or set NFPM to an installed nfpm"; }

# A full build starts from an empty set: no package of an older version is
# left to be summed and shipped.
if [ -z "$pkgs" ]; then
  rm -f "$dist"/sonevakt-* "$dist"/SHA256SUMS
fi

for arch in amd64 arm64; do
  need=no
  for p in agent collector; do for f in deb rpm; do wanted $p $arch $f && need=yes; done; done
  [ $need = yes ] || continue
  stage="$work/$arch" # nfpm runs here: bin/ holds the binaries, src is the repository
  mkdir -p "$stage/bin"
  ln -s "$root" "$stage/src"
  echo "packages: building linux/$arch binaries, version $version"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch $GO build -trimpath -ldflags "$ldflags" -o "$stage/bin/" \
    ./agent/cmd/sonevakt-agent ./collector/cmd/sonevakt-collector
  for p in agent collector; do
    for f in deb rpm; do
      wanted $p $arch $f || continue
      case $f in
        deb) out="$dist/sonevakt-${p}_${version}_${arch}.deb" ;;
        rpm) rarch=$arch; [ "$arch" = amd64 ] && rarch=x86_64; [ "$arch" = arm64 ] && rarch=aarch64
             out="$dist/sonevakt-${p}-${version}-1.${rarch}.rpm" ;;
      esac
      rm -f "$out"
      (cd "$stage" && SONEVAKT_PKG_VERSION=$version SONEVAKT_ARCH=$arch \
        $NFPM package --config "src/packaging/linux/$p.yaml" --packager "$f" --target "$out") >"$work/nfpm.out" 2>&1 ||
        { cat "$work/nfpm.out" >&2; die "nfpm failed for $p $arch $f"; }
      echo "packages: $(basename "$out")"
    done
  done
done

if [ -x scripts/package-windows.sh ] && { [ -z "${SONEVAKT_PACKAGES:-}" ] || [[ $sel == *" windows "* ]]; }; then
  # The MSI's version is numeric (MAJOR.MINOR.BUILD): the release part of ours.
  msi=${version%%[~+]*}
  [[ $msi =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version \"$version\" has no MAJOR.MINOR.BUILD for the MSI"
  DIST=$dist VERSION=$msi BUILD_VERSION=$version COMMIT=$sha scripts/package-windows.sh
fi

# Checksums of everything in dist/ (names only, so that sha256sum -c works there).
(cd "$dist" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort |
  xargs -r sha256sum >"$work/SHA256SUMS" && mv "$work/SHA256SUMS" SHA256SUMS)
echo "packages: $dist/SHA256SUMS"
