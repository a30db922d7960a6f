//go:build tools

// Package tools only exists so that go.mod/go.sum track the dependencies of the
// helm binary build.sh compiles; it is never built.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
