#!/usr/bin/env bash
# Build the upstream Kubernetes conformance binaries (e2e.test, ginkgo,
# kubectl) pinned by go.mod/go.sum in this directory, straight from the Go
# module proxy / module cache. Nothing is written inside the repository.
#
# Output: ${ULTRAK8S_CONFORMANCE_CACHE:-$HOME/.cache/ultrak8s-conformance}/<kube version>/
#
# Environment knobs:
#   ULTRAK8S_CONFORMANCE_CACHE  output root (default ~/.cache/ultrak8s-conformance)
#   ULTRAK8S_GO_JOBS            go build -p (default 2; the build machine is shared)
#   ULTRAK8S_FORCE=1            rebuild even if the binaries are up to date
#   GO                          go binary (default: `go` on PATH, else /usr/local/go/bin/go)
#
# A binary is skipped when it exists and is newer than go.sum, go.mod and this
# script. Builds run under `nice -n 19`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO=go; else GO=/usr/local/go/bin/go; fi
fi
jobs="${ULTRAK8S_GO_JOBS:-2}"
force="${ULTRAK8S_FORCE:-0}"

gocmd() { nice -n 19 "$GO" "$@"; }

# Single source of truth for the version: the k8s.io/kubernetes requirement in go.mod.
kube_version="$(gocmd list -m -f '{{.Version}}' k8s.io/kubernetes)"
# Reproducible build date: the release time the module proxy reports.
build_date="$(gocmd list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)"
if [[ ! "$kube_version" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]]; then
  echo "build.sh: unexpected k8s.io/kubernetes version '$kube_version'" >&2
  exit 1
fi
kube_major="${BASH_REMATCH[1]}"
kube_minor="${BASH_REMATCH[2]}"

out="${ULTRAK8S_CONFORMANCE_CACHE:-$HOME/.cache/ultrak8s-conformance}/${kube_version}"
mkdir -p "$out"

# Same version stamping as upstream hack/lib/version.sh (kube::version::ldflags).
# gitCommit is not known from the module proxy, so it is left empty rather
# than the "$Format:%H$" placeholder.
ldflags=""
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X '${pkg}.gitVersion=${kube_version}'"
  ldflags+=" -X '${pkg}.gitMajor=${kube_major}'"
  ldflags+=" -X '${pkg}.gitMinor=${kube_minor}'"
  ldflags+=" -X '${pkg}.gitCommit='"
  ldflags+=" -X '${pkg}.gitTreeState=clean'"
  ldflags+=" -X '${pkg}.buildDate=${build_date}'"
done
# Upstream non-debug builds: strip symbols, -trimpath, tags selinux,notest,grpcnotrace.
ldflags="all=${ldflags# } -s -w"
common=(-p "$jobs" -trimpath -tags "selinux,notest,grpcnotrace" -ldflags "$ldflags")
# Static binaries: portable, and no C toolchain needed.
export CGO_ENABLED=0

up_to_date() {
  local bin="$1"
  [[ "$force" != 1 && -x "$bin" && "$bin" -nt go.sum && "$bin" -nt go.mod && "$bin" -nt "$here/build.sh" ]]
}

# build <name> <go subcommand...>: the go command gets `-o <tmp>` appended
# before the package; the result is moved into place only on success.
build() {
  local name="$1" pkg="$2"; shift 2
  local bin="$out/$name"
  if up_to_date "$bin"; then
    echo "build.sh: $name up to date, skipping"
    return
  fi
  echo "build.sh: building $name ($pkg) ..."
  local start=$SECONDS
  gocmd "$@" "${common[@]}" -o "$bin.tmp" "$pkg"
  mv -f "$bin.tmp" "$bin"
  echo "build.sh: $name built in $((SECONDS - start))s"
}

build ginkgo   github.com/onsi/ginkgo/v2/ginkgo build
build kubectl  k8s.io/kubernetes/cmd/kubectl     build
build e2e.test k8s.io/kubernetes/test/e2e        test -c

echo "build.sh: Kubernetes ${kube_version} conformance binaries in ${out}:"
ls -l "$out/e2e.test" "$out/ginkgo" "$out/kubectl"
