#!/usr/bin/env bash
# Builds a Terraform or OpenTofu CLI from its module on the Go module proxy,
# for the acceptance tests: build-cli.sh terraform|tofu VERSION OUTPUT.
#
# `go install` refuses the current modules (they carry replace directives),
# so the module is copied somewhere writable and built there as the main
# module. Terraform's replace directives point at nested modules
# (remote-state backends, internal/legacy) that a module zip leaves out.
# The copy drops the remote-state backends of every CLI (and those go.mod
# lines), keeping local, http, inmem and remote, which is all a test
# needs (the acceptance tests keep state locally): the cloud SDKs behind
# the others (AWS, Azure, Google, Kubernetes, Alibaba, Tencent) were a
# third of each CLI's packages and most of its build time (Terraform
# 1.8.5: 1,393 packages, 911 without them). Nothing else of a CLI changes.
set -euo pipefail

cli=$1 version=$2 out=$3

case $cli in
terraform) module=github.com/hashicorp/terraform pkg=. ;;
tofu) module=github.com/opentofu/opentofu pkg=./cmd/tofu ;;
*) echo "usage: $0 terraform|tofu VERSION OUTPUT" >&2; exit 2 ;;
esac

# The remote-state backends dropped, by their import alias in
# internal/backend/init/init.go (the same in every version of both CLIs),
# and Terraform's nested modules (its current backends live in them).
backend_aliases='backend(Azure|Consul|Cos|GCS|Kubernetes|OCI|OSS|Pg|S3)'
nested_backend_modules='github\.com/hashicorp/terraform/internal/(backend/remote-state/(azure|consul|cos|gcs|kubernetes|oci|oss|pg|s3)|legacy)'

drop_backends() {
	sed -i -E "/\\b${backend_aliases}\\b/d" internal/backend/init/init.go
	sed -i -E "\\#${nested_backend_modules}( |\$)#d" go.mod
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
drop_backends
# -mod=mod lets go.sum gain what the trimmed go.mod now resolves differently;
# the build goes to a temporary name so an interrupted one is rebuilt.
GOWORK=off GOFLAGS=-mod=mod go build -o "$out.tmp" "$pkg"
mv "$out.tmp" "$out"
"$out" version
