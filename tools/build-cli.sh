#!/usr/bin/env bash
# Builds a Terraform or OpenTofu CLI from its module on the Go module proxy,
# for the acceptance tests: build-cli.sh terraform|tofu VERSION OUTPUT.
#
# `go install` refuses both modules (they carry replace directives), so the
# module is copied somewhere writable and built there as the main module.
# Terraform's replace directives point at nested modules (remote-state
# backends, internal/legacy) that a module zip leaves out: the copy drops
# those backends and their go.mod lines, keeping local, http, inmem and
# remote, which is all a test needs. Nothing else of either CLI changes.
set -euo pipefail

cli=$1 version=$2 out=$3

case $cli in
terraform) module=github.com/hashicorp/terraform pkg=. ;;
tofu) module=github.com/opentofu/opentofu pkg=./cmd/tofu ;;
*) echo "usage: $0 terraform|tofu VERSION OUTPUT" >&2; exit 2 ;;
esac

# The backends whose code lives in nested modules, by their import alias in
# internal/backend/init/init.go and their directory under remote-state/.
tf_backend_aliases='backend(Azure|Consul|Cos|GCS|Kubernetes|OCI|OSS|Pg|S3)'
tf_nested_modules='github\.com/hashicorp/terraform/internal/(backend/remote-state/(azure|consul|cos|gcs|kubernetes|oci|oss|pg|s3)|legacy)'

drop_nested_backends() {
	sed -i -E "/\\b${tf_backend_aliases}\\b/d" internal/backend/init/init.go
	sed -i -E "\\#${tf_nested_modules}( |\$)#d" go.mod
}

# The copy lives next to the binary, under a dot directory the go tool
# never walks into from this repository.
src=$(dirname "$out")/.src/$cli-$version
dir=$(GOFLAGS= go mod download -json "$module@$version" | sed -n -E 's/^[[:space:]]*"Dir": "(.*)",$/\1/p')
rm -rf "$src"
mkdir -p "$(dirname "$src")"
cp -R "$dir" "$src"
chmod -R u+w "$src"
cd "$src"
if [ "$cli" = terraform ]; then drop_nested_backends; fi
# -mod=mod lets go.sum gain what the trimmed go.mod now resolves differently;
# the build goes to a temporary name so an interrupted one is rebuilt.
GOWORK=off GOFLAGS=-mod=mod go build -o "$out.tmp" "$pkg"
mv "$out.tmp" "$out"
"$out" version
