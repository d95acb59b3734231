#!/usr/bin/env bash
# Builds the Windows agent (windows/amd64), Authenticode-signs it, packages it into an MSI with
# wixl (packaging/windows/sonevakt-agent.wxs) and signs the MSI. Runs on Linux; scripts/packages.sh
# calls it for `make packages`.
#
# Environment:
#   VERSION   numeric MAJOR.MINOR.BUILD for the MSI (MAJOR, MINOR < 256, BUILD < 65536); required
#   DIST      output folder (default dist)
#   BUILD_VERSION  the version the binary reports (pkg/buildinfo.Version; default VERSION)
#   COMMIT    the commit the binary reports (default: git rev-parse --short=12 HEAD)
#   SONEVAKT_AGENT_EXE  an already built, unsigned sonevakt-agent.exe to package instead of building
# Signing (the real certificate; without SONEVAKT_SIGN_CERT a throwaway self-signed test
# certificate is made, good for CI and development only):
#   SONEVAKT_SIGN_CERT  code-signing certificate: PKCS#12 (.p12, .pfx) or PEM (chain allowed)
#   SONEVAKT_SIGN_KEY   PEM private key (with a PEM certificate)
#   SONEVAKT_SIGN_PASS  password of the PKCS#12 file or of the key (read from a 0600 file by
#                       osslsigncode, never put on a command line)
#   SONEVAKT_SIGN_TIMESTAMP  RFC 3161 timestamp URL (optional; needs network)
#   SONEVAKT_SIGN_CERT_OUT   where to copy the throwaway certificate (PEM), e.g. for
#                       osslsigncode verify -CAfile
#
# Output: $DIST/sonevakt-agent-$VERSION-windows-amd64.exe and $DIST/sonevakt-agent-$VERSION-x64.msi,
# both signed, and their SHA-256 on stdout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$PATH:/usr/local/go/bin
GO=${GO:-go}

die() { echo "package-windows: $*" >&2; exit 1; }

VERSION=${VERSION:-}
[ -n "$VERSION" ] || die "VERSION is not set (want MAJOR.MINOR.BUILD, e.g. 1.4.0)"
if ! [[ $VERSION =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
  die "VERSION=$VERSION: want numeric MAJOR.MINOR.BUILD for the MSI, e.g. 1.4.0"
fi
if (( 10#${BASH_REMATCH[1]} > 255 || 10#${BASH_REMATCH[2]} > 255 || 10#${BASH_REMATCH[3]} > 65535 )); then
  die "VERSION=$VERSION: Windows Installer allows at most 255.255.65535"
fi
DIST=${DIST:-dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
BUILD_VERSION=${BUILD_VERSION:-$VERSION}
COMMIT=${COMMIT:-$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || true)}

for tool in wixl msiinfo msibuild osslsigncode openssl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install wixl msitools osslsigncode openssl)"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"

# 1. The executable.
exe=$work/sonevakt-agent.exe
if [ -n "${SONEVAKT_AGENT_EXE:-}" ]; then
  [ -f "$SONEVAKT_AGENT_EXE" ] || die "SONEVAKT_AGENT_EXE=$SONEVAKT_AGENT_EXE: no such file"
  cp "$SONEVAKT_AGENT_EXE" "$exe"
else
  ldflags="-s -w -X github.com/sonevakt/sonevakt/pkg/buildinfo.Version=$BUILD_VERSION -X github.com/sonevakt/sonevakt/pkg/buildinfo.Commit=$COMMIT"
  (cd "$root" && CGO_ENABLED=0 GOOS=windows GOARCH=amd64 "$GO" build -trimpath -ldflags "$ldflags" \
    -o "$exe" ./agent/cmd/sonevakt-agent)
fi

# 2. The signing identity.
sign_args=()
passfile=$work/pass
: >"$passfile"
chmod 600 "$passfile"
if [ -n "${SONEVAKT_SIGN_CERT:-}" ]; then
  [ -f "$SONEVAKT_SIGN_CERT" ] || die "SONEVAKT_SIGN_CERT=$SONEVAKT_SIGN_CERT: no such file"
  case $SONEVAKT_SIGN_CERT in
    *.p12 | *.pfx | *.P12 | *.PFX)
      sign_args=(-pkcs12 "$SONEVAKT_SIGN_CERT")
      ;;
    *)
      [ -n "${SONEVAKT_SIGN_KEY:-}" ] || die "SONEVAKT_SIGN_CERT=$SONEVAKT_SIGN_CERT is PEM: set SONEVAKT_SIGN_KEY to its private key"
      [ -f "$SONEVAKT_SIGN_KEY" ] || die "SONEVAKT_SIGN_KEY=$SONEVAKT_SIGN_KEY: no such file"
      sign_args=(-certs "$SONEVAKT_SIGN_CERT" -key "$SONEVAKT_SIGN_KEY")
      ;;
  esac
  echo "package-windows: signing with $SONEVAKT_SIGN_CERT"
else
  echo "package-windows: SONEVAKT_SIGN_CERT not set: signing with a THROWAWAY SELF-SIGNED test certificate (not trusted by Windows; for CI and development only)"
  openssl req -x509 -newkey rsa:3072 -sha256 -days 30 -nodes \
    -keyout "$work/test-key.pem" -out "$work/test-cert.pem" \
    -subj "/O=Sonevakt/CN=Sonevakt test code signing (untrusted)" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" \
    -addext "extendedKeyUsage=codeSigning" 2>/dev/null || die "openssl could not make the test certificate"
  sign_args=(-certs "$work/test-cert.pem" -key "$work/test-key.pem")
  if [ -n "${SONEVAKT_SIGN_CERT_OUT:-}" ]; then
    cp "$work/test-cert.pem" "$SONEVAKT_SIGN_CERT_OUT"
  fi
fi
if [ -n "${SONEVAKT_SIGN_CERT:-}" ] && [ -n "${SONEVAKT_SIGN_PASS:-}" ]; then
  printf '%s' "$SONEVAKT_SIGN_PASS" >"$passfile"
  sign_args+=(-readpass "$passfile")
fi
sign_args+=(-h sha256 -n "Sonevakt agent" -i "https://github.com/sonevakt/sonevakt")
if [ -n "${SONEVAKT_SIGN_TIMESTAMP:-}" ]; then
  sign_args+=(-ts "$SONEVAKT_SIGN_TIMESTAMP")
fi

sign() { # in out
  osslsigncode sign "${sign_args[@]}" -in "$1" -out "$2" >"$work/sign.log" 2>&1 || {
    cat "$work/sign.log" >&2
    die "osslsigncode could not sign $(basename "$2")"
  }
}

# 3. Sign the executable, then package the signed one.
mkdir "$work/msi"
sign "$exe" "$work/msi/sonevakt-agent.exe"
out_exe=$DIST/sonevakt-agent-$VERSION-windows-amd64.exe
cp "$work/msi/sonevakt-agent.exe" "$out_exe"

# wixl resolves File/@Source against the working folder.
unsigned_msi=$work/unsigned.msi
(cd "$work/msi" && wixl -a x64 -D "Version=$VERSION" -D AgentExe=sonevakt-agent.exe \
  -o "$unsigned_msi" "$root/packaging/windows/sonevakt-agent.wxs") >"$work/wixl.log" 2>&1 || {
  cat "$work/wixl.log" >&2
  die "wixl failed on packaging/windows/sonevakt-agent.wxs"
}

# wixl has no Property/@Secure and writes SecureCustomProperties itself (the upgrade
# properties): add COLLECTOR, TOKEN and ENROLL_LATER so a managed (elevated) install passes them on.
(cd "$work" && msiinfo export "$unsigned_msi" Property >Property.idt)
grep -q '^SecureCustomProperties	' "$work/Property.idt" || die "wixl wrote no SecureCustomProperties"
sed -i 's/^\(SecureCustomProperties	[^\r]*\)/\1;COLLECTOR;TOKEN;ENROLL_LATER/' "$work/Property.idt"
# wixl (0.101, Debian) has no Product-level Condition either: add the launch condition that a
# first install names its collector and token (or says ENROLL_LATER=1) to the LaunchCondition
# table wixl made for MajorUpgrade's downgrade message.
(cd "$work" && msiinfo export "$unsigned_msi" LaunchCondition >LaunchCondition.idt)
printf '%s\t%s\r\n' \
  'Installed OR WIX_UPGRADE_DETECTED OR ENROLL_LATER = "1" OR (COLLECTOR AND TOKEN)' \
  'Set COLLECTOR=host:port and TOKEN=... (from sonevakt-collector token create), or ENROLL_LATER=1 to enroll later with sonevakt-agent enroll.' \
  >>"$work/LaunchCondition.idt"
# wixl 0.101 has no MajorUpgrade/@AllowSameVersionUpgrades: make the upgrade row's maximum
# inclusive (msidbUpgradeAttributesVersionMaxInclusive, 0x200), so that a rebuild of the same
# version (a new ProductCode) replaces the installed one instead of installing beside it.
(cd "$work" && msiinfo export "$unsigned_msi" Upgrade >Upgrade.idt)
grep -q '	1		WIX_UPGRADE_DETECTED' "$work/Upgrade.idt" || die "wixl wrote an unexpected Upgrade table"
sed -i 's/\t1\t\tWIX_UPGRADE_DETECTED/\t513\t\tWIX_UPGRADE_DETECTED/' "$work/Upgrade.idt"
(cd "$work" && msibuild "$unsigned_msi" -i Property.idt -i LaunchCondition.idt -i Upgrade.idt) ||
  die "msibuild could not update the Property, LaunchCondition and Upgrade tables"

# 4. Sign the MSI.
out_msi=$DIST/sonevakt-agent-$VERSION-x64.msi
sign "$unsigned_msi" "$out_msi"

(cd "$DIST" && sha256sum "$(basename "$out_exe")" "$(basename "$out_msi")")
